//! A test host across a real network: a network namespace joined to this one by a veth
//! pair (`ip netns`, `ip link`, from iproute2; needs root). This side is `10.77.N.1`, the
//! namespace's `10.77.N.2`; cutting the link partitions it, restoring it heals it.

use std::process::Command;

/// A namespace and its link; removed when dropped.
#[derive(Debug)]
pub struct Netns {
    pub name: String,
    /// This side's address.
    pub host: String,
    /// The namespace's address.
    pub guest: String,
    link: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

impl Netns {
    /// A fresh namespace, or `None` (the test is skipped, loudly) where namespaces cannot
    /// be made (not root, no iproute2) and `CIRCLEFIT_REQUIRE_NETNS` is not set (CI sets
    /// it, which makes that a failure).
    pub fn new(tag: &str) -> Option<Netns> {
        let n = std::process::id() % 200 + 20;
        let name = format!("cf-{tag}-{}", std::process::id());
        let (link, peer) = (format!("cfh{n}"), format!("cfg{n}"));
        let ns = Netns {
            name: name.clone(),
            host: format!("10.77.{n}.1"),
            guest: format!("10.77.{n}.2"),
            link: link.clone(),
        };
        let made = ip(&["netns", "add", &name])
            && ip(&["link", "add", &link, "type", "veth", "peer", "name", &peer])
            && ip(&["link", "set", &peer, "netns", &name])
            && ip(&["addr", "add", &format!("{}/24", ns.host), "dev", &link])
            && ip(&["link", "set", &link, "up"])
            && ip(&[
                "netns",
                "exec",
                &name,
                "ip",
                "addr",
                "add",
                &format!("{}/24", ns.guest),
                "dev",
                &peer,
            ])
            && ip(&["netns", "exec", &name, "ip", "link", "set", &peer, "up"])
            && ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"]);
        if made {
            return Some(ns);
        }
        drop(ns);
        if std::env::var_os("CIRCLEFIT_REQUIRE_NETNS").is_some() {
            panic!(
                "CIRCLEFIT_REQUIRE_NETNS is set but a network namespace could not be made (root and iproute2 needed)"
            );
        }
        eprintln!("SKIPPED: network namespaces need root and iproute2");
        None
    }

    /// Cuts the link (a partition: packets are lost, no connection is reset).
    pub fn cut(&self) {
        assert!(ip(&["link", "set", &self.link, "down"]), "cut");
    }

    /// Restores the link.
    pub fn heal(&self) {
        assert!(ip(&["link", "set", &self.link, "up"]), "heal");
    }

    /// The command prefix that runs a program inside the namespace.
    pub fn exec(&self) -> Vec<String> {
        ["ip", "netns", "exec", &self.name]
            .map(String::from)
            .to_vec()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.link])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
