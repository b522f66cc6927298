//! A bare TCP relay in its own process: the least any hop between `curl` and the emulator can
//! do. It reads each direction [`BUFFER`] bytes at a time on a blocking thread and writes what
//! it read, with no parsing, no hashing and no event loop: what socat does. Scenario 7 reads the
//! file through it beside the gateway, so the gateway's download is compared with the same bytes
//! crossing one more process, not only with no hop at all.
//!
//! `fastgate-bench relay HOST:PORT` runs it (the bench starts it so, through [`start`]): it
//! prints `relay listening at ADDR` and relays every connection to HOST:PORT until killed.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};

use crate::procs::{self, Proc};

/// Bytes per read: socat's largest usual `-b`, near the gateway's own reads (~300 KiB).
const BUFFER: usize = 256 * 1024;

/// The line the relay prints once it listens.
const LISTENING: &str = "relay listening at ";

/// A started relay process.
pub struct Relay {
    /// The process, stopped when this is dropped.
    pub proc: Proc,
    /// `127.0.0.1:PORT`, where connections go.
    pub addr: String,
}

/// Starts this binary as a relay to `upstream` (`HOST:PORT`).
pub fn start(upstream: &str) -> Result<Relay, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let (proc, addr) = procs::spawn_printing(&me, &["relay", upstream], |line| {
        line.strip_prefix(LISTENING).map(|v| v.trim().to_owned())
    })?;
    Ok(Relay { proc, addr })
}

/// The relay process's body: listens on a free loopback port and relays each connection to
/// `upstream` on threads of its own. Returns only if listening fails.
pub fn serve(upstream: &str) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("{LISTENING}{addr}");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    for client in listener.incoming() {
        let client = client.map_err(|e| e.to_string())?;
        let upstream = upstream.to_owned();
        std::thread::spawn(move || {
            if let Err(e) = relay_one(client, &upstream) {
                eprintln!("relay: {e}");
            }
        });
    }
    Ok(())
}

/// Relays one connection both ways until each side has finished sending.
fn relay_one(client: TcpStream, upstream: &str) -> std::io::Result<()> {
    let server = TcpStream::connect(upstream)?;
    let (client_read, server_write) = (client.try_clone()?, server.try_clone()?);
    let requests = std::thread::spawn(move || pass(client_read, server_write, BUFFER));
    pass(server, client, BUFFER)?;
    requests.join().unwrap_or(Ok(()))
}

/// Copies `from` into `to`, `buffer` bytes per read, until `from` ends, then ends `to`'s sending
/// side. The run's relay floor (`usage.rs`) measures this same loop.
pub fn pass(mut from: TcpStream, mut to: TcpStream, buffer: usize) -> std::io::Result<()> {
    let mut buf = vec![0u8; buffer];
    loop {
        match from.read(&mut buf)? {
            0 => break,
            n => to.write_all(&buf[..n])?,
        }
    }
    to.shutdown(Shutdown::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_cross_both_ways_and_each_end_sees_the_other_finish() {
        let upstream = TcpListener::bind("127.0.0.1:0").expect("bind");
        let upstream_addr = upstream.local_addr().expect("addr").to_string();
        let echo = std::thread::spawn(move || {
            let (mut s, _) = upstream.accept().expect("accept");
            let mut got = Vec::new();
            s.read_to_end(&mut got).expect("read request");
            let reply: Vec<u8> = got.iter().rev().copied().collect();
            s.write_all(&reply).expect("reply");
            got.len()
        });
        let front = TcpListener::bind("127.0.0.1:0").expect("bind");
        let front_addr = front.local_addr().expect("addr");
        let relay = std::thread::spawn(move || {
            let (c, _) = front.accept().expect("accept");
            relay_one(c, &upstream_addr)
        });
        let mut c = TcpStream::connect(front_addr).expect("connect");
        let sent: Vec<u8> = (0..3 * BUFFER + 17).map(|i| (i % 251) as u8).collect();
        c.write_all(&sent).expect("send");
        c.shutdown(Shutdown::Write).expect("half-close");
        let mut back = Vec::new();
        c.read_to_end(&mut back).expect("read reply");
        assert_eq!(echo.join().expect("echo"), sent.len());
        relay.join().expect("relay").expect("relayed");
        let expected: Vec<u8> = sent.iter().rev().copied().collect();
        assert!(back == expected, "the reply came back changed");
    }
}
