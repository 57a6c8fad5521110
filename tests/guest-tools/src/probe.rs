//! `vztest probe tcp|http ADDR --until FILE`: a client that keeps talking to a server in a
//! VE while the VE moves, until FILE exists; then it prints `answers N longest-gap-ms M` and
//! fails if any answer was wrong or missing.
//!
//! - tcp: one connection for the whole run to an echo server; a numbered line every 100 ms,
//!   each echo read before the next is sent (the connection itself must survive).
//! - http: a new `GET /` every 100 ms (a web server that must answer each one).
//!
//! The gap is the time between two consecutive answers: the longest is what a user of the
//! server saw of the move.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddrV4, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

const INTERVAL: Duration = Duration::from_millis(100);
/// How long one answer may take: longer than any freeze of a working migration.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Kind {
    Tcp,
    Http,
}

pub fn run(kind: Kind, addr: SocketAddrV4, until: &Path) -> Result<(), String> {
    let mut answers = 0u64;
    let mut longest = Duration::ZERO;
    let mut last = Instant::now();
    let mut echo = match kind {
        Kind::Tcp => Some(Echo::connect(addr)?),
        Kind::Http => None,
    };
    let outcome = loop {
        if until.exists() {
            break Ok(());
        }
        let answered = match echo.as_mut() {
            Some(echo) => echo.round_trip(answers),
            None => http_get(addr, "/", ANSWER_TIMEOUT).map(|_| ()),
        };
        if let Err(e) = answered {
            break Err(format!("answer {}: {e}", answers + 1));
        }
        answers += 1;
        longest = longest.max(last.elapsed());
        last = Instant::now();
        std::thread::sleep(INTERVAL);
    };
    println!("answers {answers} longest-gap-ms {}", longest.as_millis());
    outcome
}

struct Echo {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Echo {
    fn connect(addr: SocketAddrV4) -> Result<Echo, String> {
        let stream = TcpStream::connect_timeout(&addr.into(), ANSWER_TIMEOUT)
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream
            .set_read_timeout(Some(ANSWER_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let writer = stream.try_clone().map_err(|e| e.to_string())?;
        Ok(Echo {
            reader: BufReader::new(stream),
            writer,
        })
    }

    fn round_trip(&mut self, number: u64) -> Result<(), String> {
        writeln!(self.writer, "{number}").map_err(|e| format!("send: {e}"))?;
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .map_err(|e| format!("receive: {e}"))?;
        if line.trim() != number.to_string() {
            return Err(format!("sent {number}, got {:?}", line.trim()));
        }
        Ok(())
    }
}

/// GET `path` from `addr` over a new connection, each step within `timeout`; the body of a
/// 200 answer.
pub fn http_get(addr: SocketAddrV4, path: &str, timeout: Duration) -> Result<String, String> {
    let mut stream = TcpStream::connect_timeout(&addr.into(), timeout)
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", addr.ip())
        .map_err(|e| format!("send: {e}"))?;
    let mut reply = String::new();
    stream
        .read_to_string(&mut reply)
        .map_err(|e| format!("receive: {e}"))?;
    let (head, body) = reply.split_once("\r\n\r\n").ok_or("no HTTP header")?;
    if !head.starts_with("HTTP/1.") || !head.contains(" 200 ") {
        return Err(format!(
            "answer: {}",
            head.lines().next().unwrap_or_default()
        ));
    }
    Ok(body.to_owned())
}
