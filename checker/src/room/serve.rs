//! `checker room DIR --serve ADDR`: the room on a workshop's own network, no internet needed.
//! Attendees send their report with curl:
//!
//! ```text
//! checker level3 --format json | curl --data-binary @- http://ADDR/$(hostname).json
//! ```
//!
//! and it is stored as `DIR/NAME.json` (a doctor's report as `NAME.doctor.json`); the
//! projector shows `http://ADDR/`, the room's tables as a page that reloads itself. A tiny
//! HTTP/1.1 server of the standard library: one request per connection, one at a time.

use super::{clock, table, Room};
use anyhow::{Context, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

/// The page reloads itself this often, in seconds.
pub const REFRESH_SECS: u32 = 10;
/// The largest report stored (a level-10 report with every output captured is ~200 KiB).
const MAX_BODY: usize = 8 << 20;
/// A client that stops sending for this long is dropped: one slow laptop cannot stall the room.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the room of `dir` on `address` until killed.
pub fn serve_at(address: &str, dir: &Path, now: Option<u64>) -> Result<()> {
    // A directory that cannot be read is bad input, said before anything listens.
    Room::read(dir, 0)?;
    let listener = TcpListener::bind(address).map_err(|e| {
        crate::exit::usage(format!(
            "room --serve {address}: {e} (give ADDRESS:PORT, e.g. 0.0.0.0:8080)"
        ))
    })?;
    let port = listener.local_addr()?.port();
    println!(
        "The room of {} on http://{address}/ (the projector: open it in a browser).\n\
         Attendees send their reports with:\n  \
         sudo -E env \"PATH=$PATH\" cargo run -p checker -- levelN --format json | curl --data-binary @- http://THIS-MACHINE:{port}/$(hostname).json",
        dir.display()
    );
    serve(&listener, dir, now, None)
}

/// Answers the connections of `listener`, `requests` of them when given (then returns), each
/// at time `now` or the clock's.
pub fn serve(
    listener: &TcpListener,
    dir: &Path,
    now: Option<u64>,
    requests: Option<usize>,
) -> Result<()> {
    let connections = listener.incoming().take(requests.unwrap_or(usize::MAX));
    for stream in connections {
        let Ok(mut stream) = stream else { continue };
        let now = now.unwrap_or_else(clock::now);
        let (status, kind, body) = match read_request(&mut stream) {
            Ok(request) => answer(&request, dir, now),
            Err(why) => (400, "text/plain", format!("{why}\n")),
        };
        // The client may have gone: nothing to do about it.
        let _ = respond(&mut stream, status, kind, &body);
    }
    Ok(())
}

/// One request, as far as the room reads it.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

fn read_request(stream: &mut TcpStream) -> std::result::Result<Request, String> {
    stream
        .set_read_timeout(Some(CLIENT_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .map_err(|e| format!("no request: {e}"))?;
    let mut words = line.split_whitespace();
    let (Some(method), Some(path)) = (words.next(), words.next()) else {
        return Err("not an HTTP request".into());
    };
    let (method, path) = (method.to_string(), path.to_string());
    let mut length = 0;
    let mut expects_continue = false;
    loop {
        let mut header = String::new();
        reader
            .read_line(&mut header)
            .map_err(|e| format!("headers: {e}"))?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("expect") {
                expects_continue = value.trim().eq_ignore_ascii_case("100-continue");
            }
            if name.eq_ignore_ascii_case("content-length") {
                length = value
                    .trim()
                    .parse()
                    .map_err(|_| "a Content-Length that is not a number")?;
            }
        }
    }
    if length > MAX_BODY {
        return Err(format!("a body of {length} bytes: at most {MAX_BODY}"));
    }
    // curl asks before it sends a large body, and waits a second for an answer otherwise.
    if expects_continue {
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .map_err(|e| format!("answering Expect: {e}"))?;
    }
    let mut body = vec![0; length];
    reader
        .read_exact(&mut body)
        .map_err(|e| format!("the body: {e}"))?;
    Ok(Request { method, path, body })
}

/// (status, content type, body) for `request`.
pub fn answer(request: &Request, dir: &Path, now: u64) -> (u16, &'static str, String) {
    let room = || Room::read(dir, now);
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/") => match room() {
            Ok(room) => (200, "text/html; charset=utf-8", page(&room)),
            Err(e) => (500, "text/plain", format!("{e:#}\n")),
        },
        ("GET", "/room.json") => match room().and_then(|r| Ok(serde_json::to_string_pretty(&r)?)) {
            Ok(json) => (200, "application/json", json),
            Err(e) => (500, "text/plain", format!("{e:#}\n")),
        },
        ("POST" | "PUT", path) => match store(path, &request.body, dir) {
            Ok(file) => (200, "text/plain", format!("stored {file}\n")),
            Err(why) => (400, "text/plain", format!("not stored: {why}\n")),
        },
        _ => (
            404,
            "text/plain",
            "the room: GET / (the page), GET /room.json, POST /NAME.json (a report)\n".into(),
        ),
    }
}

/// Stores a report sent to `/NAME.json` (or a doctor's, to `/NAME.doctor.json`) as that file
/// of `dir`, once it reads as one: a run that printed nothing stores nothing.
fn store(path: &str, body: &[u8], dir: &Path) -> std::result::Result<String, String> {
    let file = path.strip_prefix('/').unwrap_or(path);
    let name = file
        .strip_suffix(".json")
        .ok_or("send to /NAME.json (NAME: your machine's or your name)")?;
    let valid = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        return Err(format!(
            "{file}: NAME may hold letters, digits, '-', '_' and '.', up to 64"
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| "the report is not UTF-8 text")?;
    if name.ends_with(".doctor") {
        super::parse_doctor(text)?;
    } else {
        super::parse_report(text)?;
    }
    let partial = dir.join(format!(".{file}.partial"));
    std::fs::write(&partial, text)
        .and_then(|_| std::fs::rename(&partial, dir.join(file)))
        .map_err(|e| format!("cannot write it in {}: {e}", dir.display()))?;
    Ok(file.to_string())
}

fn respond(stream: &mut TcpStream, status: u16, kind: &str, body: &str) -> Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .context("answering")?;
    Ok(())
}

/// The room's tables as a page for the projector: the same text as `checker room`, large,
/// reloaded every [`REFRESH_SECS`] seconds.
pub fn page(room: &Room) -> String {
    crate::report::set_colour(false);
    let text = table::render(room);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\n<title>The room</title>\n\
         <style>body {{ background: #fff; color: #111; margin: 1em; }} \
         pre {{ font: max(14px, 1.45vw)/1.3 monospace; white-space: pre; }} b {{ color: #000; }} \
         .stale {{ color: #a05a00; }}</style>\n</head>\n<body>\n\
         <pre>{}</pre>\n<p><small>{} UTC; reloads every {REFRESH_SECS} s</small></p>\n</body>\n</html>\n",
        marked(&escape(&text)),
        room.now
    )
}

/// The headings in bold, the lines of stale reports coloured.
fn marked(html: &str) -> String {
    html.lines()
        .map(|line| {
            if !line.is_empty() && !line.starts_with(' ') {
                format!("<b>{line}</b>\n")
            } else if line.contains(" (stale)") {
                format!("<span class=\"stale\">{line}</span>\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
