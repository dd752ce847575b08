//! Store throughput, for `scripts/bench-outputs`: publishes, whole-set
//! reads and single-value gets of a lease-sized set (12 values, one
//! table), per second.
//!
//! Usage: `store-throughput [DIR] [N]` (default: a directory under
//! /dev/shm, 2000).

use std::time::Instant;

use limina_outputs::{OutputSet, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .unwrap_or_else(|| format!("/dev/shm/limina-bench-outputs-{}", std::process::id()));
    let n: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let store = Store::new(&dir);
    let set_for = |i: u32| -> Result<OutputSet, Box<dyn std::error::Error>> {
        let mut s = OutputSet::new();
        for (k, v) in [
            ("ifname", "eth1".to_owned()),
            ("ip", format!("10.0.{}.{}", i / 250 % 250, i % 250 + 1)),
            ("mask", "255.255.255.0".to_owned()),
            ("prefixlen", "24".to_owned()),
            ("router", "10.0.0.1".to_owned()),
            ("routers", "10.0.0.1".to_owned()),
            ("dns", "10.0.0.1 192.0.2.53".to_owned()),
            ("lease", i.to_string()),
            ("serverid", "10.0.0.1".to_owned()),
            ("address/a1/address", "2001:db8::1".to_owned()),
            ("address/a1/len", "64".to_owned()),
            ("address/a1/valid", "3600".to_owned()),
        ] {
            s.set(k, v)?;
        }
        Ok(s)
    };
    let t = Instant::now();
    for i in 0..n {
        store.publish("wan", &set_for(i)?)?;
    }
    let publish = f64::from(n) / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(store.read("wan")?);
    }
    let read = f64::from(n) / t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(store.get("wan", "ip")?);
    }
    let get = f64::from(n) / t.elapsed().as_secs_f64();
    store.remove("wan")?;
    std::fs::remove_dir_all(&dir)?;
    println!("publish_per_s {publish:.0}\nread_set_per_s {read:.0}\nget_per_s {get:.0}");
    Ok(())
}
