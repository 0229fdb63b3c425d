//! The benchmark driver protocol (benchmarks/drivers/driver.py) spoken by bare reqwest + tokio:
//! the lower bound of "a Python client on reqwest". Same flags, same warm-up, same checks, same
//! JSON line; the scenario's shape comes as flags (--path, --method, ...) since scenarios.py is
//! Python. One current-thread tokio runtime: the whole client on the one CPU it is pinned to.

use std::collections::HashMap;
use std::time::{Duration, Instant};

type Res<T> = Result<T, String>;

struct Args {
    opts: HashMap<String, String>,
}

impl Args {
    fn parse() -> Args {
        let mut opts = HashMap::new();
        let mut it = std::env::args().skip(1);
        while let Some(k) = it.next() {
            if let Some(name) = k.strip_prefix("--") {
                opts.insert(name.to_string(), it.next().unwrap_or_default());
            }
        }
        Args { opts }
    }
    fn get(&self, k: &str) -> &str {
        self.opts.get(k).map(String::as_str).unwrap_or("")
    }
    fn num(&self, k: &str, default: f64) -> f64 {
        self.get(k).parse().unwrap_or(default)
    }
}

/// What one timed loop needs to know about the scenario.
struct Shape {
    url: String,
    upload: Option<Vec<u8>>, // a POST's body
    stream: bool,
    conc: usize,
    expect: usize,
}

/// Debian's rustls 0.20 cannot verify a certificate for an IP address: an https URL on 127.0.0.1
/// goes to the certificate's other name, localhost, pinned to 127.0.0.1 (no lookup, same socket).
const IP_HOST: &str = "https://127.0.0.1:";

fn base_url(a: &Args) -> String {
    a.get("url").replacen(IP_HOST, "https://localhost:", 1)
}

fn client(a: &Args) -> Res<reqwest::Client> {
    let mut b = reqwest::Client::builder();
    if let Some(port) = a.get("url").strip_prefix(IP_HOST) {
        let port: u16 = port.trim_end_matches('/').parse().map_err(|_| "bad port".to_string())?;
        b = b.resolve("localhost", std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if !a.get("ca").is_empty() {
        let pem = std::fs::read(a.get("ca")).map_err(|e| e.to_string())?;
        let ca = reqwest::Certificate::from_pem(&pem).map_err(|e| e.to_string())?;
        b = b.add_root_certificate(ca);
    }
    if a.get("http") == "2" && a.get("url").starts_with("http:") {
        b = b.http2_prior_knowledge(); // h2c; over TLS, ALPN picks h2
    } else if a.get("http") == "1" {
        b = b.http1_only();
    }
    if !a.get("proxy").is_empty() {
        b = b.proxy(reqwest::Proxy::all(a.get("proxy")).map_err(|e| e.to_string())?);
    } else {
        b = b.no_proxy();
    }
    b.build().map_err(|e| e.to_string())
}

async fn one(c: &reqwest::Client, s: &Shape) -> Res<(u16, usize)> {
    let req = match &s.upload {
        Some(body) => c.post(&s.url).body(body.clone()),
        None => c.get(&s.url),
    };
    let mut r = req.send().await.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    if s.stream {
        let mut n = 0;
        while let Some(chunk) = r.chunk().await.map_err(|e| e.to_string())? {
            n += chunk.len();
        }
        return Ok((status, n));
    }
    Ok((status, r.bytes().await.map_err(|e| e.to_string())?.len()))
}

fn check(status: u16, n: usize, expect: usize, what: &str) -> Res<()> {
    if status != 200 || n != expect {
        return Err(format!("{what}: got status {status} with {n} bytes, wanted 200/{expect}"));
    }
    Ok(())
}

/// `total` requests over `conc` closed-loop workers; per-request latencies in ns.
async fn run_loop(c: &reqwest::Client, s: &Shape, total: usize, deadline: Instant) -> Res<Vec<u64>> {
    let worker = |k: usize| async move {
        let mut lat = Vec::with_capacity(k);
        for _ in 0..k {
            let t0 = Instant::now();
            let (status, n) = one(c, s).await?;
            let t1 = Instant::now();
            check(status, n, s.expect, "response")?;
            lat.push((t1 - t0).as_nanos() as u64);
            if t1 > deadline {
                break;
            }
        }
        Ok::<Vec<u64>, String>(lat)
    };
    let conc = s.conc.max(1);
    let futs: Vec<_> = (0..conc).map(|i| worker(total / conc + usize::from(i < total % conc))).collect();
    let mut lat = Vec::with_capacity(total);
    for r in join_all(futs).await {
        lat.extend(r?);
    }
    Ok(lat)
}

/// Polls every future on this task (no spawn: they borrow the client), like asyncio.gather.
async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

fn rusage() -> libc::rusage {
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
    r
}

fn secs(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// user+sys seconds of the server processes, from /proc (0 where unreadable).
fn proc_cpu_s(pids: &[u32]) -> f64 {
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut ticks = 0u64;
    for pid in pids {
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            let f: Vec<&str> = stat.rsplit_once(')').map(|x| x.1).unwrap_or("").split_whitespace().collect();
            ticks += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            ticks += f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    ticks as f64 / tck
}

/// A field of /proc/self/status in KiB: VmRSS (resident now), VmHWM (its peak).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

async fn bench(a: &Args) -> Res<String> {
    let base = base_url(a);
    let n = a.num("n", 3000.0) as usize;
    let conc = a.num("concurrency", 1.0) as usize;
    let warmup = a.get("warmup").parse::<usize>().unwrap_or((2 * conc).max(n / 10));
    let budget = match a.num("max-seconds", 0.0) {
        b if b > 0.0 => b,
        _ => 1e9,
    };
    let s = Shape {
        url: format!("{base}{}", a.get("path")),
        upload: (a.get("method") == "POST").then(|| vec![0u8; a.num("upload", 0.0) as usize]),
        stream: a.get("stream") == "1",
        conc,
        expect: a.num("expect", 2.0) as usize,
    };
    let c = client(a)?;
    let half = Instant::now() + Duration::from_secs_f64(budget / 2.0);
    run_loop(&c, &s, warmup, half).await?;
    // the protocol the server actually saw (scenarios.PROTO_LEN), as the Python driver checks
    let proto = Shape { url: format!("{base}/proto"), upload: None, stream: false, conc: 1, expect: a.num("proto-len", 6.0) as usize };
    let (st, len) = one(&c, &proto).await?;
    check(st, len, proto.expect, "protocol")?;

    let pids: Vec<u32> = a.get("server-pids").split(',').filter_map(|p| p.parse().ok()).collect();
    let srv0 = proc_cpu_s(&pids);
    let r0 = rusage();
    let t0 = Instant::now();
    let mut lat = run_loop(&c, &s, n, t0 + Duration::from_secs_f64(budget)).await?;
    let wall = t0.elapsed().as_secs_f64();
    let r1 = rusage();
    let srv1 = proc_cpu_s(&pids);
    let rss = status_kib("VmRSS:");
    let peak = status_kib("VmHWM:");
    let fds = count("/proc/self/fd");
    drop(c);

    let cpu = secs(r1.ru_utime) - secs(r0.ru_utime) + secs(r1.ru_stime) - secs(r0.ru_stime);
    lat.sort_unstable();
    let done = lat.len();
    let pct = |q: f64| lat[((q * done as f64) as usize).min(done - 1)] as f64 / 1e3;
    let server = if pids.is_empty() { "null".to_string() } else { format!("{:?}", 100.0 * (srv1 - srv0) / wall) };
    Ok(format!(
        "\"requests\": {done}, \"wall_s\": {wall:?}, \"cpu_s\": {cpu:?}, \
         \"cpu_us_per_req\": {:?}, \"rps\": {:?}, \"p50_us\": {:?}, \"p99_us\": {:?}, \
         \"client_cpu_pct\": {:?}, \"server_cpu_pct\": {server}, \"preempted\": {}, \"threads\": {}, \"rss_kib\": {rss}, \
         \"max_rss_kib\": {}, \"open_fds\": {fds}",
        cpu / done as f64 * 1e6,
        done as f64 / wall,
        pct(0.50),
        pct(0.99),
        100.0 * cpu / wall,
        r1.ru_nivcsw - r0.ru_nivcsw,
        count("/proc/self/task"),
        peak,
    ))
}

fn main() {
    let a = Args::parse();
    let head = format!(
        "{{\"client\": \"reqwest\", \"scenario\": \"{}\", \"loop\": \"{}\", \"version\": \"reqwest 0.11 + tokio 1 (Debian crates, rustls)\"",
        a.get("scenario"),
        a.get("loop")
    );
    if a.get("http") == "3" {
        println!("{head}, \"unsupported\": \"no HTTP/3 in Debian's reqwest 0.11\"}}");
        return;
    }
    if a.get("loop") == "sync" {
        println!("{head}, \"unsupported\": \"async tokio client only\"}}");
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    match rt.block_on(bench(&a)) {
        Ok(body) => println!("{head}, {body}}}"),
        Err(e) => {
            eprintln!("{e}");
            println!("{head}, \"error\": {:?}}}", e);
            std::process::exit(1);
        }
    }
}
