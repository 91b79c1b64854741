//! Several servers on one store, as processes on loopback with a real PostgreSQL: jobs spread
//! over the servers, servers killed, stopped gracefully and paused past their lease, the
//! database restarted — and every job ends exactly once, exactly as it ends on a single
//! fresh server. Skipped (loudly) where PostgreSQL is not installed, unless
//! `CIRCLEFIT_REQUIRE_POSTGRES` is set, as CI does.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use support::pg::Cluster;
use support::*;

/// Short leases, so a lost server's jobs move within a few seconds.
const LEASE: [&str; 4] = ["--lease-seconds", "2", "--renew-seconds", "0.5"];

/// A job of about a second on this machine; four different seeds.
fn settings(i: usize) -> String {
    format!(
        r#"{{"circles": 40, "iters": 10, "pop": 10, "polish": 1, "seed": {}}}"#,
        i % 4
    )
}

/// Each distinct job's circles and evaluation count on one fresh SQLite server.
fn references(name: &str, jobs: &[String]) -> BTreeMap<String, (serde_json::Value, i64)> {
    let s = start(&Backend::sqlite(name), &["--workers", "2"]);
    let distinct: BTreeSet<&String> = jobs.iter().collect();
    let ids: Vec<(String, i64)> = distinct
        .into_iter()
        .map(|j| (j.clone(), submit_ok(&s, CAT, j)))
        .collect();
    ids.into_iter()
        .map(|(j, id)| {
            let done = wait(&s, id);
            assert_eq!(done["status"], "done");
            (
                j,
                (circles_of(&s, id), done["evaluations"].as_i64().unwrap()),
            )
        })
        .collect()
}

/// Asserts every job ended `done` once, exactly as its reference, and the list `s` shows
/// holds each job once.
fn assert_all_exact(
    s: &Server,
    jobs: &[(i64, String)],
    refs: &BTreeMap<String, (serde_json::Value, i64)>,
) {
    for (id, settings) in jobs {
        let job = wait(s, *id);
        assert_eq!(job["status"], "done", "{job}");
        let (circles, evaluations) = &refs[settings];
        assert_eq!(
            &circles_of(s, *id),
            circles,
            "job {id} differs from its reference"
        );
        assert_eq!(
            job["evaluations"].as_i64(),
            Some(*evaluations),
            "job {id}: {job}"
        );
    }
    let list = json(&get(s, "/api/v1/jobs").1);
    let listed: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();
    let unique: BTreeSet<i64> = listed.iter().copied().collect();
    assert_eq!(listed.len(), unique.len(), "a job listed twice");
    let want: BTreeSet<i64> = jobs.iter().map(|(id, _)| *id).collect();
    assert_eq!(unique, want, "jobs missing or extra");
}

/// Waits until a job is running on `worker` with at least `circles` kept, and (so that it
/// is well inside its stages, not about to end) at most half of its 40; its id.
fn running_on(s: &Server, worker: &str, circles: i64) -> i64 {
    let t0 = Instant::now();
    loop {
        let list = json(&get(s, "/api/v1/jobs").1);
        let hit = list.as_array().unwrap().iter().find(|j| {
            j["status"] == "running"
                && j["worker"] == worker
                && (circles..=20).contains(&j["circles"].as_i64().unwrap_or(-1))
        });
        if let Some(j) = hit {
            return j["id"].as_i64().unwrap();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "nothing ran on {worker}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn done_count(s: &Server) -> usize {
    let list = json(&get(s, "/api/v1/jobs").1);
    list.as_array()
        .unwrap()
        .iter()
        .filter(|j| j["status"] == "done")
        .count()
}

fn metric(s: &Server, name: &str) -> f64 {
    let text = String::from_utf8(get(s, "/metrics").1).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
}

#[test]
fn three_servers_share_one_queue_and_lose_nothing_when_one_is_killed_and_one_stopped() {
    let Some(db) = Backend::postgres("cluster_three") else {
        return;
    };
    let names = ["alpha", "beta", "gamma"];
    let mut servers: Vec<Server> = names
        .iter()
        .map(|n| {
            start(
                &db,
                &[&["--workers", "1", "--name", n][..], &LEASE[..]].concat(),
            )
        })
        .collect();
    // 40 jobs from 10 concurrent clients, spread over the three servers.
    let clients: Vec<_> = (0..10)
        .map(|c| {
            let s = servers[c % 3].client();
            std::thread::spawn(move || {
                (0..4)
                    .map(|k| {
                        let j = settings(c * 4 + k);
                        (submit_ok(&s, CAT, &j), j)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let jobs: Vec<(i64, String)> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    assert_eq!(jobs.len(), 40);
    // Let the cluster work a while, then SIGKILL alpha in the middle of a fit and SIGTERM
    // beta in the middle of another.
    let t0 = Instant::now();
    while done_count(&servers[2]) < 9 {
        assert!(t0.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = running_on(&servers[2], "alpha", 2);
    let mut alpha = servers.remove(0);
    alpha.child.kill().unwrap();
    alpha.child.wait().unwrap();
    let t_kill = Instant::now();
    let released = running_on(&servers[1], "beta", 2);
    let mut beta = servers.remove(0);
    beta.signal("TERM");
    let code = beta.child.wait().unwrap();
    assert!(
        code.success(),
        "beta after SIGTERM: {code:?}\n{}",
        beta.log()
    );
    let gamma = servers.remove(0);
    wait_until(&gamma, killed, "the killed server's job adopted", |j| {
        j["worker"] == "gamma"
    });
    let adopt_after = t_kill.elapsed();
    let refs = references(
        "cluster_three_refs",
        &jobs.iter().map(|j| j.1.clone()).collect::<Vec<_>>(),
    );
    assert_all_exact(&gamma, &jobs, &refs);
    for id in [killed, released] {
        assert_eq!(job(&gamma, id)["attempts"], 2, "job {id}");
    }
    let adoptions = metric(&gamma, "circlefit_lease_adoptions_total");
    assert!(adoptions >= 1.0, "{adoptions}");
    // Another server on the same database lists the same jobs, each once.
    let delta = start(&db, &["--workers", "0"]);
    assert_all_exact(&delta, &jobs, &refs);
    let per_worker: BTreeMap<String, usize> = json(&get(&delta, "/api/v1/jobs").1)
        .as_array()
        .unwrap()
        .iter()
        .fold(BTreeMap::new(), |mut m, j| {
            *m.entry(j["worker"].as_str().unwrap_or("").to_owned())
                .or_default() += 1;
            m
        });
    eprintln!(
        "cluster: {} jobs done once each, {adoptions} lease adoptions, the killed server's job adopted {:.1} s after the kill; finished by {per_worker:?}",
        jobs.len(),
        adopt_after.as_secs_f64()
    );
}

#[test]
fn events_and_cancels_reach_a_job_through_any_server() {
    let Some(db) = Backend::postgres("cluster_events") else {
        return;
    };
    let runner = start(
        &db,
        &[&["--workers", "1", "--name", "runner"][..], &LEASE[..]].concat(),
    );
    let front = start(&db, &["--workers", "0", "--name", "front"]);
    // Long enough (about a second) for several progress events: a stream reads the row
    // at most every 100 ms.
    let id = submit_ok(&front, CAT, r#"{"circles": 100, "iters": 10, "pop": 10}"#);
    let resp = agent()
        .get(format!("{}/api/v1/jobs/{id}/events", front.base))
        .call()
        .unwrap();
    let mut names = Vec::new();
    for line in BufReader::new(resp.into_body().into_reader()).lines() {
        if let Some(name) = line.unwrap().strip_prefix("event: ") {
            names.push(name.to_owned());
        }
    }
    assert_eq!(names.last().map(String::as_str), Some("done"), "{names:?}");
    assert!(
        names.iter().filter(|n| *n == "progress").count() >= 2,
        "{names:?}"
    );
    assert_eq!(job(&front, id)["worker"], "runner");
    // A pause and a resume sent to the API-only server reach the fit on the other one.
    let long = submit_ok(&front, CAT, r#"{"circles": 2000, "iters": 40, "pop": 20}"#);
    wait_until(&front, long, "a few circles kept", |j| {
        j["circles"].as_i64() >= Some(3)
    });
    assert_eq!(
        post(&front, &format!("/api/v1/jobs/{long}/pause"), "").0,
        200
    );
    wait_until(&front, long, "paused", |j| j["status"] == "paused");
    let kept = job(&front, long)["circles"].clone();
    let circles = json(&get(&front, &format!("/api/v1/jobs/{long}/circles")).1);
    assert_eq!(
        circles["count"], kept,
        "the paused job's circles are its checkpoint's"
    );
    assert_eq!(
        post(&front, &format!("/api/v1/jobs/{long}/resume"), "").0,
        200
    );
    wait_until(&front, long, "running on after the resume", |j| {
        j["status"] == "running" && j["circles"].as_i64() > kept.as_i64()
    });
    assert_eq!(job(&front, long)["worker"], "runner");
    // A cancel sent to the API-only server stops the fit on the other one.
    let (status, _) = post(&front, &format!("/api/v1/jobs/{long}/cancel"), "");
    assert_eq!(status, 200);
    let t0 = Instant::now();
    let ended = wait(&front, long);
    let took = t0.elapsed();
    assert_eq!(ended["status"], "cancelled", "{ended}");
    assert!(took < Duration::from_secs(5), "the cancel took {took:?}");
    assert!(ended["circles"].as_i64() >= Some(3));
    assert_eq!(
        get(&front, &format!("/api/v1/jobs/{long}/result.png")).0,
        200
    );
    eprintln!(
        "cluster: a cancel through another server took {:.2} s",
        took.as_secs_f64()
    );
    drop(runner);
}

#[test]
fn a_paused_server_cannot_overwrite_the_adopters_result() {
    let Some(db) = Backend::postgres("cluster_fencing") else {
        return;
    };
    let job_settings = settings(1);
    let paused = start(
        &db,
        &[&["--workers", "1", "--name", "paused"][..], &LEASE[..]].concat(),
    );
    let id = submit_ok(&paused, CAT, &job_settings);
    running_on(&paused, "paused", 3);
    paused.signal("STOP");
    let adopter = start(
        &db,
        &[&["--workers", "1", "--name", "adopter"][..], &LEASE[..]].concat(),
    );
    let done = wait(&adopter, id);
    assert_eq!(
        (done["status"].as_str(), done["worker"].as_str()),
        (Some("done"), Some("adopter"))
    );
    let result = get(&adopter, &format!("/api/v1/jobs/{id}/result.json")).1;
    // The paused server wakes up mid-fit, holding a lease that is no longer the job's.
    paused.signal("CONT");
    assert!(paused.logs_within("lease lost", 30), "{}", paused.log());
    std::thread::sleep(Duration::from_secs(1));
    let after = job(&adopter, id);
    assert_eq!(after["worker"], "adopter", "{after}");
    assert_eq!(after["status"], "done");
    assert_eq!(after["evaluations"], done["evaluations"]);
    assert_eq!(
        get(&adopter, &format!("/api/v1/jobs/{id}/result.json")).1,
        result
    );
    let refs = references("cluster_fencing_refs", std::slice::from_ref(&job_settings));
    assert_eq!(circles_of(&adopter, id), refs[&job_settings].0);
}

#[test]
fn a_database_restart_mid_run_changes_no_result() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let db = Backend::Postgres(cluster.database("restart"));
    let servers: Vec<Server> = ["one", "two"]
        .iter()
        .map(|n| start(&db, &["--workers", "1", "--name", n]))
        .collect();
    let jobs: Vec<(i64, String)> = (0..6)
        .map(|i| {
            let j = settings(i);
            (submit_ok(&servers[i % 2], CAT, &j), j)
        })
        .collect();
    running_on(&servers[0], "one", 3);
    cluster.pg_ctl("stop");
    std::thread::sleep(Duration::from_secs(2));
    cluster.pg_ctl("start");
    let refs = references(
        "restart_refs",
        &jobs.iter().map(|j| j.1.clone()).collect::<Vec<_>>(),
    );
    assert_all_exact(&servers[1], &jobs, &refs);
    assert_eq!(get(&servers[0], "/healthz").0, 200);
    // The outage was seen (a write failed and was retried or skipped), not slept through.
    let logs: String = servers.iter().map(Server::log).collect();
    assert!(logs.contains("failed"), "{logs}");
    eprintln!(
        "restart: {}",
        logs.lines()
            .filter(|l| l.contains("failed"))
            .take(4)
            .collect::<Vec<_>>()
            .join(" | ")
    );
}

#[test]
fn two_servers_on_one_sqlite_file_share_it_through_leases() {
    let db = Backend::sqlite("two_on_one_file");
    let a = start(
        &db,
        &[&["--workers", "1", "--name", "a"][..], &LEASE[..]].concat(),
    );
    let b = start(
        &db,
        &[&["--workers", "1", "--name", "b"][..], &LEASE[..]].concat(),
    );
    let jobs: Vec<(i64, String)> = (0..8)
        .map(|i| {
            let j = settings(i);
            (submit_ok(if i % 2 == 0 { &a } else { &b }, CAT, &j), j)
        })
        .collect();
    let refs = references(
        "two_on_one_file_refs",
        &jobs.iter().map(|j| j.1.clone()).collect::<Vec<_>>(),
    );
    assert_all_exact(&a, &jobs, &refs);
    assert_all_exact(&b, &jobs, &refs);
    let mut workers = BTreeSet::new();
    for (id, _) in &jobs {
        let j = job(&a, *id);
        assert_eq!(j["attempts"], 1, "a job ran twice: {j}");
        workers.insert(j["worker"].as_str().unwrap().to_owned());
    }
    assert_eq!(workers.len(), 2, "both servers ran jobs: {workers:?}");
}

/// A store that refuses the result write (a full disk, simulated by a trigger that fails the
/// write as PostgreSQL would): the job is not reported failed while it still says running,
/// the write is retried, and once the store accepts writes again the job ends exactly.
#[test]
fn a_refused_result_write_is_retried_and_never_reported_as_a_failure() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let db = Backend::Postgres(cluster.database("refused"));
    let s = start(&db, &["--workers", "1", "--name", "one"]);
    cluster.sql(
        "refused",
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN
             RAISE EXCEPTION 'could not extend file: No space left on device'; END $$ LANGUAGE plpgsql;
         CREATE TRIGGER refuse BEFORE UPDATE ON circlefit_jobs FOR EACH ROW
             WHEN (NEW.status <> 'running') EXECUTE FUNCTION refuse();",
    );
    let job_settings = settings(2);
    let id = submit_ok(&s, CAT, &job_settings);
    let resp = agent()
        .get(format!("{}/api/v1/jobs/{id}/events", s.base))
        .call()
        .unwrap();
    assert!(s.logs_within("retrying", 60), "{}", s.log());
    std::thread::sleep(Duration::from_secs(2));
    let during = job(&s, id);
    assert_eq!(during["status"], "running", "{during}");
    cluster.sql("refused", "DROP TRIGGER refuse ON circlefit_jobs");
    let mut names = Vec::new();
    for line in BufReader::new(resp.into_body().into_reader()).lines() {
        if let Some(name) = line.unwrap().strip_prefix("event: ") {
            names.push(name.to_owned());
        }
    }
    assert_eq!(names.last().map(String::as_str), Some("done"), "{names:?}");
    // One end, never a failure (besides progress, only `status` events for a change of
    // state).
    let ends = ["done", "failed", "cancelled"];
    assert_eq!(
        names.iter().filter(|n| ends.contains(&n.as_str())).count(),
        1,
        "{names:?}"
    );
    let refs = references("refused_refs", std::slice::from_ref(&job_settings));
    assert_eq!(circles_of(&s, id), refs[&job_settings].0);
}

/// A server on a host of its own across a real network (a network namespace and a veth
/// link) loses the network in the middle of a fit: its lease expires, a server on this
/// host adopts the job and finishes it; when the link comes back, the cut-off server finds
/// its lease gone and writes nothing, and serves again.
#[test]
fn a_partitioned_server_loses_its_job_to_another_and_writes_nothing_after_healing() {
    let Some(ns) = support::netns::Netns::new("part") else {
        return;
    };
    let Some(cluster) = Cluster::start_on(&[&ns.host]) else {
        return;
    };
    let local = cluster.database("partition");
    let remote = cluster.url_via(&ns.host, "partition");
    let cut = start_in(
        &ns,
        &remote,
        &[&["--workers", "1", "--name", "cut"][..], &LEASE[..]].concat(),
    );
    let job_settings = settings(3);
    let id = submit_ok(&cut, CAT, &job_settings);
    running_on(&cut, "cut", 3);
    ns.cut();
    let t_cut = Instant::now();
    let adopter = start(
        &Backend::Postgres(local),
        &[&["--workers", "1", "--name", "adopter"][..], &LEASE[..]].concat(),
    );
    let done = wait(&adopter, id);
    assert_eq!(
        (done["status"].as_str(), done["worker"].as_str()),
        (Some("done"), Some("adopter"))
    );
    let adopted_after = t_cut.elapsed();
    let result = get(&adopter, &format!("/api/v1/jobs/{id}/result.json")).1;
    ns.heal();
    assert!(cut.logs_within("lease lost", 90), "{}", cut.log());
    let after = job(&adopter, id);
    assert_eq!(after["worker"], "adopter", "{after}");
    assert_eq!(after["evaluations"], done["evaluations"]);
    assert_eq!(
        get(&adopter, &format!("/api/v1/jobs/{id}/result.json")).1,
        result
    );
    let refs = references("partition_refs", std::slice::from_ref(&job_settings));
    assert_eq!(circles_of(&adopter, id), refs[&job_settings].0);
    // The healed server reaches the database again.
    let t0 = Instant::now();
    while get(&cut, "/healthz").0 != 200 {
        assert!(t0.elapsed() < Duration::from_secs(30), "{}", cut.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "partition: the cut-off server's job finished by another {:.1} s after the cut",
        adopted_after.as_secs_f64()
    );
}
