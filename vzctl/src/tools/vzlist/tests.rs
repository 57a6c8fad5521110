//! vzlist's unit tests: rendering from entries, and gather and run_in over a temporary
//! tree and a fake module.

use super::fields::{fields, find_field, Kind, Part};
use super::select::{glob_match, SortKey};
use super::*;
use crate::cli;
use crate::device::fake::FakeDevice;
use crate::params;
use crate::quota::{DiskLimits, DiskUsage};
use std::path::Path;

const HEADER: &str = "      CTID      NPROC STATUS    IP_ADDR         HOSTNAME\n";

fn counters(pairs: &[(&str, u64, u64, u64, u64, u64)]) -> [UbCounter; UB_COUNT] {
    let mut all = [UbCounter::default(); UB_COUNT];
    for &(name, held, maxheld, barrier, limit, failcnt) in pairs {
        let id = params::ubc_param(name).unwrap().resource as usize;
        all[id] = UbCounter {
            held,
            maxheld,
            barrier,
            limit,
            failcnt,
        };
    }
    all
}

fn conf_ubc(pairs: &[(&str, u64, u64)]) -> [Option<(u64, u64)>; UB_COUNT] {
    let mut all = [None; UB_COUNT];
    for &(name, barrier, limit) in pairs {
        all[params::ubc_param(name).unwrap().resource as usize] = Some((barrier, limit));
    }
    all
}

/// VE 101 running with 5 tasks; VE 102 stopped with a config.
fn running_101() -> Entry {
    Entry {
        hostname: Some("a.example".into()),
        ip: vec!["10.0.0.1".into()],
        counters: Some(counters(&[
            ("numproc", 5, 9, 240, 240, 0),
            ("kmemsize", 1_000_000, 2_000_000, 14_372_700, 14_790_164, 3),
        ])),
        conf_ubc: conf_ubc(&[("numproc", 240, 240)]),
        ..Entry::new(101, Status::Running)
    }
}

fn stopped_102() -> Entry {
    Entry {
        hostname: Some("b.example".into()),
        conf_ubc: conf_ubc(&[("numproc", 100, 120)]),
        ..Entry::new(102, Status::Stopped)
    }
}

fn both() -> Vec<Entry> {
    vec![stopped_102(), running_101()]
}

fn opts() -> Options {
    Options::default()
}

fn all() -> Options {
    Options {
        show: Show::All,
        ..opts()
    }
}

fn output(fields: &str) -> Options {
    Options {
        output: Some(fields.into()),
        ..all()
    }
}

fn text(entries: &[Entry], opts: &Options) -> String {
    render(entries, opts).unwrap()
}

fn message(result: Result<String, VzError>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn default_lists_running_ves_in_openvz_columns() {
    assert_eq!(
        text(&both(), &opts()),
        format!("{HEADER}       101          5 running   10.0.0.1        a.example\n")
    );
}

#[test]
fn all_shows_stopped_ves_with_dashes() {
    assert_eq!(
        text(&both(), &all()),
        format!(
            "{HEADER}       101          5 running   10.0.0.1        a.example\n       \
             102          - stopped   -               b.example\n"
        )
    );
}

#[test]
fn header_uses_the_column_widths() {
    let header = text(&[], &opts());
    assert_eq!(header, HEADER);
    // %10s %10s %-9s %-15s %-32s, the last trimmed.
    assert_eq!(
        header.trim_end(),
        format!(
            "{:>10} {:>10} {:<9} {:<15} {}",
            "CTID", "NPROC", "STATUS", "IP_ADDR", "HOSTNAME"
        )
    );
}

#[test]
fn stopped_lists_every_ve_that_does_not_run() {
    let mut mounted = Entry::new(103, Status::Mounted);
    mounted.hostname = Some("c".into());
    let entries = vec![running_101(), stopped_102(), mounted];
    let out = text(
        &entries,
        &Options {
            show: Show::Stopped,
            output: Some("ctid,status".into()),
            ..opts()
        },
    );
    assert_eq!(
        out,
        "      CTID STATUS\n       102 stopped\n       103 mounted\n"
    );
}

#[test]
fn no_header_and_one() {
    let no_header = Options {
        no_header: true,
        ..all()
    };
    assert_eq!(
        text(&both(), &no_header),
        "       101          5 running   10.0.0.1        a.example\n       \
         102          - stopped   -               b.example\n"
    );
    let cli = cli::parse::<VzlistCli, _, _>(["vzlist", "-1", "-a"])
        .unwrap()
        .unwrap();
    let one = Options::from_cli(&cli);
    assert!(one.no_header);
    assert_eq!(text(&both(), &one), "       101\n       102\n");
    let ctid = Options {
        no_header: true,
        ..output("ctid")
    };
    assert_eq!(text(&both(), &ctid), text(&both(), &one));
}

#[test]
fn long_values_are_trimmed_except_in_the_last_column() {
    let long = "h".repeat(40);
    let entry = Entry {
        hostname: Some(long.clone()),
        ip: vec!["10.0.0.1".into(), "10.0.0.2".into()],
        ..Entry::new(7, Status::Stopped)
    };
    let entries = [entry];
    let trimmed = text(
        &entries,
        &Options {
            no_header: true,
            ..output("hostname,ip,ctid")
        },
    );
    assert_eq!(
        trimmed,
        format!("{} 10.0.0.1                 7\n", "h".repeat(32))
    );
    let last = text(
        &entries,
        &Options {
            no_header: true,
            ..output("ctid,ip,hostname")
        },
    );
    assert_eq!(last, format!("         7 10.0.0.1        {long}\n"));
    let ip_last = text(
        &entries,
        &Options {
            no_header: true,
            ..output("ctid,ip")
        },
    );
    assert_eq!(ip_last, "         7 10.0.0.1 10.0.0.2\n");
    let untrimmed = text(
        &entries,
        &Options {
            no_header: true,
            no_trim: true,
            ..output("hostname,ip,ctid")
        },
    );
    assert_eq!(untrimmed, format!("{long} 10.0.0.1 10.0.0.2          7\n"));
}

#[test]
fn numbers_longer_than_the_column_print_whole() {
    let entry = Entry {
        conf_ubc: conf_ubc(&[("physpages", 0, UB_UNLIMITED)]),
        ..Entry::new(5, Status::Stopped)
    };
    assert_eq!(
        text(&[entry], &output("physpages.l,ctid")),
        "   PHYSP.L       CTID\n9223372036854775807          5\n"
    );
}

#[test]
fn ubc_suffixes_show_each_part() {
    let out = text(
        &both(),
        &output("ctid,numproc,numproc.m,numproc.b,numproc.l,numproc.f,kmemsize.f"),
    );
    assert_eq!(
        out,
        "      CTID      NPROC    NPROC.M    NPROC.B    NPROC.L    NPROC.F KMEMSIZE.F\n       \
         101          5          9        240        240          0          3\n       \
         102          -          -        100        120          -          -\n"
    );
}

#[test]
fn stopped_ve_without_config_values_prints_dashes() {
    let bare = Entry::new(9, Status::Stopped);
    assert_eq!(
        text(&[bare], &output("ctid,numproc.b,hostname,cpuunits,cpus,ip")),
        "      CTID    NPROC.B HOSTNAME                          CPUUNI  CPUS IP_ADDR\n         \
         9          - -                                      -     - -\n"
    );
}

#[test]
fn running_ve_shows_the_module_limits_not_the_config() {
    let mut entry = running_101();
    entry.conf_ubc = conf_ubc(&[("numproc", 1, 1)]);
    assert_eq!(
        text(&[entry], &output("numproc.b,numproc.l")),
        "   NPROC.B    NPROC.L\n       240        240\n"
    );
}

#[test]
fn mounted_ve_has_no_usage() {
    let mut entry = running_101();
    entry.status = Status::Mounted;
    assert_eq!(
        text(&[entry], &output("numproc,numproc.b,status")),
        "     NPROC    NPROC.B STATUS\n         -        240 mounted\n"
    );
}

#[test]
fn sort_by_number_and_in_reverse() {
    let mut entries = vec![
        Entry {
            conf_ubc: conf_ubc(&[("numproc", 50, 50)]),
            ..Entry::new(1, Status::Stopped)
        },
        Entry {
            conf_ubc: conf_ubc(&[("numproc", 9, 9)]),
            ..Entry::new(2, Status::Stopped)
        },
        Entry {
            conf_ubc: conf_ubc(&[("numproc", 100, 100)]),
            ..Entry::new(3, Status::Stopped)
        },
        Entry::new(4, Status::Stopped),
    ];
    entries.reverse();
    let sorted = |sort: &str| ctids_sorted(&entries, sort);
    // Numeric, not text order; a missing value first.
    assert_eq!(sorted("numproc.l"), "4 2 1 3");
    assert_eq!(sorted("-numproc.l"), "3 1 2 4");
    assert_eq!(sorted("ctid"), "1 2 3 4");
    assert_eq!(sorted("-ctid"), "4 3 2 1");
    assert_eq!(sorted("-veid"), "4 3 2 1");
}

/// The CTIDs of `entries` as `vzlist -H -o ctid -s SORT` prints them, on one line.
fn ctids_sorted(entries: &[Entry], sort: &str) -> String {
    text(
        entries,
        &Options {
            no_header: true,
            sort: Some(sort.into()),
            ..output("ctid")
        },
    )
    .split_whitespace()
    .collect::<Vec<_>>()
    .join(" ")
}

#[test]
fn sort_by_text_and_status() {
    let named = |id, host: Option<&str>, status| Entry {
        hostname: host.map(str::to_owned),
        ..Entry::new(id, status)
    };
    let entries = vec![
        named(1, Some("zeta"), Status::Stopped),
        named(2, Some("alpha"), Status::Running),
        named(3, None, Status::Mounted),
        named(4, Some("beta"), Status::Running),
    ];
    let order = |sort: &str| ctids_sorted(&entries, sort);
    assert_eq!(order("hostname"), "3 2 4 1");
    assert_eq!(order("-hostname"), "1 4 2 3");
    // running, stopped, mounted; ties by CTID.
    assert_eq!(order("status"), "2 4 1 3");
}

#[test]
fn default_order_is_by_ctid() {
    let entries = vec![
        Entry::new(30, Status::Stopped),
        Entry::new(4, Status::Stopped),
        Entry::new(100, Status::Stopped),
    ];
    let out = text(
        &entries,
        &Options {
            no_header: true,
            ..output("ctid")
        },
    );
    assert_eq!(out, "         4\n        30\n       100\n");
}

#[test]
fn name_columns_use_smart_name() {
    let cli = cli::parse::<VzlistCli, _, _>(["vzlist", "-n"])
        .unwrap()
        .unwrap();
    let opts = Options::from_cli(&cli);
    assert_eq!(opts.output.as_deref(), Some(DEFAULT_NAME_FIELDS));
    let mut named = running_101();
    named.name = Some("web".into());
    let mut unnamed = running_101();
    unnamed.veid = 102;
    assert_eq!(
        text(&[named, unnamed], &opts),
        " SMARTNAME      NPROC STATUS    IP_ADDR         HOSTNAME\n       \
         web          5 running   10.0.0.1        a.example\n       \
         102          5 running   10.0.0.1        a.example\n"
    );
}

#[test]
fn other_fields_format_like_openvz() {
    let entry = Entry {
        onboot: true,
        cpuunits: Some(1000),
        cpulimit: Some(25),
        cpus: Some(2),
        bootorder: Some(7),
        private: Some("/vz/private/8".into()),
        conf_ubc: conf_ubc(&[("physpages", 0, 65536)]),
        ..Entry::new(8, Status::Stopped)
    };
    assert_eq!(
        text(
            &[entry],
            &output("onboot,cpuunits,cpulimit,cpus,bootorder,layout,vswap,disabled,private")
        ),
        "ONBOOT  CPUUNI  CPULIM  CPUS  BOOTORDER LAYOUT VSWAP DISABL PRIVATE\n   \
         yes    1000      25     2          7 simfs    yes     no /vz/private/8\n"
    );
}

#[test]
fn unknown_fields_are_errors() {
    let err = render(&both(), &output("ctid,foo")).unwrap_err();
    assert!(err.to_string().contains("unknown field 'foo'"), "{err}");
    assert!(message(render(&both(), &output("numproc.x"))).contains("'numproc.x'"));
    assert!(message(render(&both(), &output(""))).contains("unknown field ''"));
    let bad_sort = Options {
        sort: Some("-bar".into()),
        ..opts()
    };
    assert!(message(render(&both(), &bad_sort)).contains("'-bar'"));
}

#[test]
fn glob_filters() {
    let entry = |id, host: Option<&str>, name: Option<&str>, desc: Option<&str>| Entry {
        hostname: host.map(str::to_owned),
        name: name.map(str::to_owned),
        description: desc.map(str::to_owned),
        ..Entry::new(id, Status::Running)
    };
    let entries = vec![
        entry(1, Some("web1.example"), Some("web1"), Some("front end")),
        entry(2, Some("db.example"), Some("db"), None),
        entry(3, None, None, Some("spare")),
        entry(4, Some("web2.other"), Some("web2"), Some("front end 2")),
    ];
    let ids = |o: Options| {
        text(
            &entries,
            &Options {
                no_header: true,
                output: Some("ctid".into()),
                ..o
            },
        )
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
    };
    let host = |p: &str| Options {
        hostname: Some(p.into()),
        ..opts()
    };
    assert_eq!(ids(host("*.example")), "1 2");
    assert_eq!(ids(host("web?.*")), "1 4");
    assert_eq!(ids(host("[a-d]*")), "2");
    assert_eq!(ids(host("[!w]*")), "2");
    assert_eq!(
        ids(host("*")),
        "1 2 4",
        "a VE without hostname never matches"
    );
    assert_eq!(ids(host("web1")), "", "the whole value must match");
    let name = Options {
        name: Some("web*".into()),
        ..opts()
    };
    assert_eq!(ids(name), "1 4");
    let desc = Options {
        description: Some("front*".into()),
        ..opts()
    };
    assert_eq!(ids(desc), "1 4");
    let both = Options {
        description: Some("front*".into()),
        hostname: Some("*.other".into()),
        ..opts()
    };
    assert_eq!(ids(both), "4");
}

#[test]
fn json_has_every_field_by_default() {
    let out = render(
        &both(),
        &Options {
            json: true,
            ..all()
        },
    )
    .unwrap();
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ves = value.as_array().unwrap();
    assert_eq!(ves.len(), 2);
    let running = &ves[0];
    assert_eq!(running["ctid"], 101);
    assert_eq!(running["veid"], 101);
    assert_eq!(running["status"], "running");
    assert_eq!(running["hostname"], "a.example");
    assert_eq!(running["ip"], serde_json::json!(["10.0.0.1"]));
    assert_eq!(running["nameserver"], serde_json::json!([]));
    assert_eq!(running["description"], serde_json::Value::Null);
    assert_eq!(running["onboot"], false);
    assert_eq!(running["smart_name"], 101);
    assert_eq!(running["cpuunits"], serde_json::Value::Null);
    assert_eq!(
        running["numproc"],
        serde_json::json!({"held": 5, "maxheld": 9, "barrier": 240, "limit": 240, "failcnt": 0})
    );
    assert_eq!(running["kmemsize"]["failcnt"], 3);
    let stopped = &ves[1];
    assert_eq!(stopped["status"], "stopped");
    assert_eq!(
        stopped["numproc"],
        serde_json::json!({"held": 0, "maxheld": 0, "barrier": 100, "limit": 120, "failcnt": 0})
    );
    assert_eq!(
        stopped["kmemsize"],
        serde_json::json!({"held": 0, "maxheld": 0, "barrier": null, "limit": null, "failcnt": 0})
    );
    // Every field without a suffix, none with one.
    let keys = running.as_object().unwrap();
    let expected: Vec<_> = fields()
        .iter()
        .filter(|f| !f.has_suffix())
        .cloned()
        .collect();
    assert_eq!(keys.len(), expected.len());
    assert!(expected.iter().all(|f| keys.contains_key(&f.name)));
    assert!(!keys.contains_key("numproc.m"));
}

#[test]
fn json_layout_matches_openvz() {
    let mut entry = running_101();
    entry.ip.push("10.0.0.2".into());
    entry.name = Some("we\"b".into());
    let out = render(
        &[entry],
        &Options {
            json: true,
            ..output("ctid,name,ip,numproc,onboot")
        },
    )
    .unwrap();
    assert_eq!(
        out,
        "[\n  {\n    \"ctid\": 101,\n    \"name\": \"we\\\"b\",\n    \
         \"ip\": [\"10.0.0.1\", \"10.0.0.2\"],\n    \"numproc\": {\n      \
         \"held\": 5,\n      \"maxheld\": 9,\n      \"barrier\": 240,\n      \
         \"limit\": 240,\n      \"failcnt\": 0\n    },\n    \"onboot\": false\n  }\n]\n"
    );
    let none = render(
        &[],
        &Options {
            json: true,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(none, "[\n]\n");
    let two = render(
        &both(),
        &Options {
            json: true,
            ..output("ctid")
        },
    )
    .unwrap();
    assert_eq!(
        two,
        "[\n  {\n    \"ctid\": 101\n  },\n  {\n    \"ctid\": 102\n  }\n]\n"
    );
}

#[test]
fn json_refuses_suffixes_and_ignores_header_options() {
    let err = message(render(
        &both(),
        &Options {
            json: true,
            ..output("ctid,numproc.m")
        },
    ));
    assert!(
        err.contains("'numproc.m' is not available in JSON"),
        "{err}"
    );
    let out = render(
        &both(),
        &Options {
            json: true,
            no_header: false,
            sort: Some("-ctid".into()),
            ..output("ctid")
        },
    )
    .unwrap();
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value, serde_json::json!([{"ctid": 102}, {"ctid": 101}]));
}

#[test]
fn field_list_names_every_field_with_its_header() {
    let list = field_list();
    let lines: Vec<_> = list.lines().collect();
    assert_eq!(lines[0], "ctid            CTID           ");
    assert!(lines.contains(&"numproc         NPROC          "));
    assert!(lines.contains(&"kmemsize.b      KMEMSIZE.B     "));
    assert!(lines.contains(&"ip              IP_ADDR        "));
    // 16 general, 21 beancounters with 5 parts each, 2 disk quotas with 3, 10 others.
    assert_eq!(lines.len(), 16 + 21 * 5 + 2 * 3 + 10);
    assert!(lines.contains(&"diskspace.s     DSPACE.S       "));
    assert!(lines.contains(&"laverage        LAVERAGE       "));
}

#[test]
fn every_beancounter_is_a_field() {
    let ubc_fields: Vec<_> = fields()
        .iter()
        .filter_map(|field| match field.kind {
            Kind::Ubc(id, Part::Held) => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(ubc_fields.len(), params::UBC_PARAMS.len());
    for param in params::UBC_PARAMS {
        for suffix in ["", ".m", ".b", ".l", ".f"] {
            let field = find_field(&format!("{}{suffix}", param.name)).unwrap();
            assert!(matches!(field.kind, Kind::Ubc(id, _) if id == param.resource as usize));
        }
    }
    // In OpenVZ's order: ascending resource ids.
    assert!(ubc_fields.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn command_line() {
    let parse = |args: &[&str]| {
        let mut argv = vec!["vzlist"];
        argv.extend_from_slice(args);
        cli::parse::<VzlistCli, _, _>(argv).unwrap().unwrap()
    };
    let cli = parse(&["-h", "*.example", "-s", "-numproc", "-N", "web*", "-d", "x"]);
    assert_eq!(cli.hostname.as_deref(), Some("*.example"));
    assert_eq!(cli.sort.as_deref(), Some("-numproc"));
    assert_eq!(cli.name_filter.as_deref(), Some("web*"));
    assert_eq!(cli.description.as_deref(), Some("x"));
    let cli = parse(&["-aHtj", "-o", "ctid", "-o", "ip", "101", "web"]);
    assert!(cli.all && cli.no_header && cli.no_trim && cli.json);
    assert_eq!(cli.output.as_deref(), Some("ip"), "the last -o wins");
    assert_eq!(cli.ctids, ["101", "web"]);
    let opts = Options::from_cli(&cli);
    assert_eq!(opts.show, Show::All);
    let long = parse(&[
        "--all",
        "--stopped",
        "--no-header",
        "--no-trim",
        "--json",
        "--output=ctid",
        "--sort=ctid",
        "--hostname=h",
        "--name_filter=n",
        "--description=d",
        "--name",
        "--list",
    ]);
    assert!(long.list && long.name && long.stopped);
    assert_eq!(Options::from_cli(&long).show, Show::Stopped);
    assert_eq!(Options::from_cli(&parse(&[])).show, Show::Running);
    assert_eq!(Options::from_cli(&parse(&["102"])).show, Show::All);
    assert!(parse(&["--version"]).version);
    // --help prints and stops; -h needs a pattern.
    assert!(cli::parse::<VzlistCli, _, _>(["vzlist", "--help"])
        .unwrap()
        .is_none());
    assert!(cli::parse::<VzlistCli, _, _>(["vzlist", "-h"]).is_err());
    assert!(cli::parse::<VzlistCli, _, _>(["vzlist", "-x"]).is_err());
}

// gather and run_in, against a temporary tree and a fake module.

/// A temporary host tree, removed when dropped.
struct Host {
    _dir: tempfile::TempDir,
    paths: Paths,
}

impl Host {
    fn new() -> Host {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        std::fs::create_dir_all(paths.conf_dir()).unwrap();
        std::fs::create_dir_all(paths.names_dir()).unwrap();
        std::fs::write(
            paths.vz_conf(),
            "VE_ROOT=/vz/root/$VEID\nVE_PRIVATE=/vz/private/$VEID\nDUMPDIR=/vz/dump\n",
        )
        .unwrap();
        Host { _dir: dir, paths }
    }

    /// A VE with config `conf` and (if `private`) a private area.
    fn ve(&self, veid: u32, conf: &str, private: bool) {
        std::fs::write(self.paths.ve_conf(veid), conf).unwrap();
        if private {
            std::fs::create_dir_all(self.paths.resolve(&format!("/vz/private/{veid}"))).unwrap();
        }
    }

    fn global(&self) -> Global {
        Global::load(&self.paths).unwrap()
    }

    fn gather(
        &self,
        device: Option<&dyn ControlDevice>,
        show: Show,
        only: &[u32],
    ) -> Option<Vec<Entry>> {
        gather(&self.paths, &self.global(), device, None, show, only)
            .unwrap()
            .map(|g| g.entries)
    }
}

fn ids(entries: &[Entry]) -> Vec<(u32, Status)> {
    entries.iter().map(|e| (e.veid, e.status)).collect()
}

#[test]
fn gather_reads_configs_and_the_module() {
    let host = Host::new();
    host.ve(
        101,
        "HOSTNAME=\"a.example\"\nIP_ADDRESS=\"10.0.0.1 10.0.0.2\"\nNUMPROC=\"240:240\"\n\
         KMEMSIZE=\"2M:3M\"\nONBOOT=\"yes\"\nCPUUNITS=\"1000\"\nCPUS=\"unlimited\"\n\
         NAME=\"web\"\nDESCRIPTION=\"front end\"\nOSTEMPLATE=\"busybox\"\n\
         VE_ROOT=\"/vz/root/$VEID\"\nVE_PRIVATE=\"/vz/private/$VEID\"\n",
        true,
    );
    std::os::unix::fs::symlink("../conf/101.conf", host.paths.names_dir().join("web")).unwrap();
    host.ve(102, "HOSTNAME=\"b\"\nNAME=\"stale\"\n", true);
    host.ve(103, "", true);
    host.ve(104, "", true);
    host.ve(105, "", false);
    std::fs::write(host.paths.ve_conf(106).with_extension("conf.destroyed"), "").unwrap();
    std::fs::write(host.paths.conf_dir().join("ve-basic.conf-sample"), "").unwrap();
    // 103 is mounted, 104 suspended, 105 has no private area.
    let root_103 = host.paths.resolve("/vz/root/103");
    std::fs::create_dir_all(host.paths.proc().join("self")).unwrap();
    std::fs::write(
        host.paths.proc().join("self/mountinfo"),
        format!(
            "36 35 98:0 / {} rw - ext4 /dev/vda rw\n",
            root_103.display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(host.paths.resolve("/vz/dump")).unwrap();
    std::fs::write(host.paths.resolve("/vz/dump/Dump.104"), "").unwrap();
    let device = FakeDevice {
        counters: counters(&[("numproc", 3, 4, 240, 240, 0)]),
        // 101 runs; 200 runs without a config; 300 is known but has no tasks.
        ..FakeDevice::with_ves(&[(101, 3), (200, 1), (300, 0)])
    };

    let running = host.gather(Some(&device), Show::Running, &[]).unwrap();
    assert_eq!(
        ids(&running),
        [(101, Status::Running), (200, Status::Running)]
    );
    let counters_read = device
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("ub_get"));
    assert_eq!(
        counters_read.collect::<Vec<_>>(),
        ["ub_get 101", "ub_get 200"]
    );
    let web = &running[0];
    assert_eq!(web.hostname.as_deref(), Some("a.example"));
    assert_eq!(web.ip, ["10.0.0.1", "10.0.0.2"]);
    assert_eq!(web.name.as_deref(), Some("web"));
    assert_eq!(web.description.as_deref(), Some("front end"));
    assert_eq!(web.ostemplate.as_deref(), Some("busybox"));
    assert_eq!(web.private.as_deref(), Some("/vz/private/101"));
    assert_eq!(web.root.as_deref(), Some("/vz/root/101"));
    assert!(web.onboot);
    assert_eq!(web.cpuunits, Some(1000));
    assert_eq!(web.cpus, None, "unlimited");
    let kmem = params::ubc_param("kmemsize").unwrap().resource as usize;
    assert_eq!(web.conf_ubc[kmem], Some((2 << 20, 3 << 20)));
    assert_eq!(web.ubc(5, Part::Held), Some(3));
    // Defaults of vz.conf for a VE without config.
    assert_eq!(running[1].private.as_deref(), Some("/vz/private/200"));
    assert_eq!(running[1].hostname, None);

    let all = host.gather(Some(&device), Show::All, &[]).unwrap();
    assert_eq!(
        ids(&all),
        [
            (101, Status::Running),
            (102, Status::Stopped),
            (103, Status::Mounted),
            (104, Status::Suspended),
            (200, Status::Running),
        ],
        "105 and 300 have no private area"
    );
    assert_eq!(all[1].name, None, "NAME without its link is not shown");

    let only = host
        .gather(Some(&device), Show::Running, &[102, 101])
        .unwrap();
    assert_eq!(ids(&only), [(101, Status::Running), (102, Status::Stopped)]);
    assert!(host.gather(Some(&device), Show::All, &[555]).is_none());
}

#[test]
fn without_the_module_every_ve_is_stopped() {
    let host = Host::new();
    host.ve(101, "HOSTNAME=\"a\"\n", true);
    assert!(host.gather(None, Show::Running, &[]).is_none());
    let all = host.gather(None, Show::All, &[]).unwrap();
    assert_eq!(ids(&all), [(101, Status::Stopped)]);
    assert_eq!(all[0].counters, None);
}

#[test]
fn a_broken_config_is_a_warning() {
    let host = Host::new();
    host.ve(101, "this is not a config\n", true);
    let gathered = gather(&host.paths, &host.global(), None, None, Show::All, &[])
        .unwrap()
        .unwrap();
    assert_eq!(ids(&gathered.entries), [(101, Status::Stopped)]);
    assert_eq!(gathered.warnings.len(), 1);
    assert!(gathered.warnings[0].contains("101.conf"));
}

fn run_args(
    host: &Host,
    device: FakeDevice,
    args: &[&str],
) -> (Result<i32, VzError>, String, String) {
    let mut argv = vec!["vzlist"];
    argv.extend_from_slice(args);
    let cli = cli::parse::<VzlistCli, _, _>(argv).unwrap().unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = run_in(
        &host.paths,
        &cli,
        || Ok(Some(device)),
        &quota_of_101,
        &mut out,
        &mut err,
    );
    (
        result,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn run_prints_and_reports_missing_ves() {
    let host = Host::new();
    host.ve(
        101,
        "HOSTNAME=\"a.example\"\nIP_ADDRESS=\"10.0.0.1\"\n",
        true,
    );
    host.ve(102, "HOSTNAME=\"b.example\"\n", true);
    let device = || FakeDevice {
        counters: counters(&[("numproc", 2, 2, 240, 240, 0)]),
        ..FakeDevice::with_ves(&[(101, 2)])
    };
    let (code, out, err) = run_args(&host, device(), &["-a"]);
    assert_eq!(code.unwrap(), 0);
    assert_eq!(
        out,
        format!(
            "{HEADER}       101          2 running   10.0.0.1        a.example\n       \
             102          - stopped   -               b.example\n"
        )
    );
    assert_eq!(err, "");

    let (code, out, err) = run_args(&host, device(), &["555"]);
    assert_eq!(code.unwrap(), 1);
    assert_eq!(
        (out.as_str(), err.as_str()),
        ("", "Container(s) not found\n")
    );
    let (code, _, err) = run_args(&host, FakeDevice::default(), &[]);
    assert_eq!(code.unwrap(), 0, "nothing running is no error");
    assert_eq!(err, "Container(s) not found\n");

    let (code, out, _) = run_args(&host, device(), &["-H", "-o", "ctid,status", "102"]);
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, "       102 stopped\n");

    let (code, _, _) = run_args(&host, device(), &["-o", "foo"]);
    assert!(code
        .unwrap_err()
        .to_string()
        .contains("unknown field 'foo'"));
    let (code, _, _) = run_args(&host, device(), &["nosuchname"]);
    assert!(code
        .unwrap_err()
        .to_string()
        .contains("CT ID nosuchname is invalid"));

    let (code, out, _) = run_args(&host, device(), &["-L"]);
    assert_eq!(code.unwrap(), 0);
    assert_eq!(out, field_list());
}

#[test]
fn bad_options_fail_before_the_module_is_opened() {
    let host = Host::new();
    let cli = cli::parse::<VzlistCli, _, _>(["vzlist", "-j", "-o", "numproc.l"])
        .unwrap()
        .unwrap();
    let result = run_in(
        &host.paths,
        &cli,
        || -> Result<Option<FakeDevice>, VzError> { panic!("opened the module") },
        &|_: &str, _: u32, _: &Path| -> Option<(DiskUsage, DiskLimits)> { panic!("read a quota") },
        &mut Vec::new(),
        &mut Vec::new(),
    );
    assert!(result.unwrap_err().to_string().contains("JSON"));
}

#[test]
fn glob_matches_like_fnmatch() {
    assert!(glob_match("*", ""));
    assert!(glob_match("a*c", "abbbc"));
    assert!(glob_match("a?c", "abc"));
    assert!(!glob_match("a?c", "ac"));
    assert!(glob_match("[0-9]*", "1x"));
    assert!(glob_match("\\*", "*"));
    assert!(!glob_match("\\*", "x"));
    assert!(!glob_match("a\0", "a"));
}

#[test]
fn missing_values_sort_first() {
    use std::cmp::Ordering;
    // SortKey compares missing values first.
    assert_eq!(
        SortKey::Num(None).cmp(&SortKey::Num(Some(0))),
        Ordering::Less
    );
    assert_eq!(
        SortKey::Text(None).cmp(&SortKey::Text(Some(String::new()))),
        Ordering::Less
    );
}

// Uptime, load and disk quota (OpenVZ's laverage, uptime, diskspace and diskinodes).

/// A load of `thousandths` / 1000 in the module's fixed point (`LOAD_FSHIFT` fraction bits),
/// rounded.
fn fixed(thousandths: u64) -> u64 {
    ((thousandths << LOAD_FSHIFT) + 500) / 1000
}

const DAY_2H_3M_4S_NS: u64 = ((86_400 + 2 * 3600 + 3 * 60 + 4) * 1000 + 567) * 1_000_000;

/// VE 101 running for 1 day, 2 h, 3 min, 4.567 s with a load of 0.52, 1.00 and 12.345.
fn busy_101() -> Entry {
    Entry {
        cpustat: Some(CpuStat {
            uptime_ns: DAY_2H_3M_4S_NS,
            load: [fixed(520), fixed(1000), fixed(12_345)],
        }),
        ..running_101()
    }
}

#[test]
fn load_rounds_to_hundredths_as_openvz() {
    let hundredths = |load: [u64; 3]| CpuStat { uptime_ns: 0, load }.load_hundredths();
    assert_eq!(
        hundredths([fixed(520), fixed(1000), fixed(12_345)]),
        [52, 100, 1235]
    );
    // Half a hundredth and more rounds up, less rounds down (the kernel adds FIXED_1/200).
    assert_eq!(hundredths([0, 9, 10]), [0, 0, 0]);
    assert_eq!(hundredths([2047, 2037, 2038]), [100, 99, 100]);
    let most = (u64::MAX >> LOAD_FSHIFT) * 100 + 99;
    assert_eq!(hundredths([u64::MAX; 3]), [most; 3], "no overflow");
}

#[test]
fn laverage_and_uptime_print_as_openvz() {
    let entries = [busy_101(), stopped_102()];
    // LAVERAGE %14s, UPTIME %15s; the load is never padded or cut, a missing value is "-".
    assert_eq!(
        text(&entries, &output("ctid,laverage,uptime,status")),
        "      CTID       LAVERAGE          UPTIME STATUS\n       \
         101 0.52/1.00/12.35 001d02h:03m:04s running\n       \
         102              -               - stopped\n"
    );
    let idle = Entry {
        cpustat: Some(CpuStat {
            uptime_ns: 1000 * 86_400 * 1_000_000_000 + 59_999_999_999,
            load: [0; 3],
        }),
        ..running_101()
    };
    assert_eq!(
        text(
            &[idle],
            &Options {
                no_header: true,
                ..output("laverage,uptime")
            }
        ),
        "0.00/0.00/0.00 1000d00h:00m:59s\n"
    );
}

#[test]
fn laverage_and_uptime_in_json_as_openvz() {
    let out = render(
        &[busy_101(), stopped_102()],
        &Options {
            json: true,
            ..output("ctid,laverage,uptime")
        },
    )
    .unwrap();
    assert_eq!(
        out,
        "[\n  {\n    \"ctid\": 101,\n    \"laverage\": [0.52, 1.00, 12.35],\n    \
         \"uptime\": 93784.567\n  },\n  {\n    \"ctid\": 102,\n    \"laverage\": null,\n    \
         \"uptime\": 0.000\n  }\n]\n"
    );
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value[0]["laverage"], serde_json::json!([0.52, 1.0, 12.35]));
}

/// A quota with usage (KB, inodes) and limits (soft and hard space in KB, soft and hard
/// inodes).
fn quota(usage: Option<(u64, u64)>, limits: [u64; 4]) -> DiskQuota {
    let [space_soft_kb, space_hard_kb, inodes_soft, inodes_hard] = limits;
    DiskQuota {
        usage: usage.map(|(space_used_kb, inodes_used)| DiskUsage {
            space_used_kb,
            inodes_used,
        }),
        limits: DiskLimits {
            space_soft_kb,
            space_hard_kb,
            inodes_soft,
            inodes_hard,
        },
    }
}

/// 101 with a project quota, 102 with its config's limits only, 103 with neither.
fn disk_entries() -> Vec<Entry> {
    vec![
        Entry {
            disk: Some(quota(
                Some((5120, 300)),
                [2_097_152, 2_306_868, 131_072, 144_179],
            )),
            ..running_101()
        },
        Entry {
            disk: Some(quota(None, [1_048_576, 1_153_434, 200_000, 220_000])),
            ..stopped_102()
        },
        Entry::new(103, Status::Stopped),
    ]
}

#[test]
fn disk_quota_prints_as_openvz() {
    assert_eq!(
        text(
            &disk_entries(),
            &output("ctid,diskspace,diskspace.s,diskspace.h,diskinodes,diskinodes.s,diskinodes.h")
        ),
        "      CTID     DSPACE   DSPACE.S   DSPACE.H    DINODES  DINODES.S  DINODES.H\n       \
         101       5120    2097152    2306868        300     131072     144179\n       \
         102          -    1048576    1153434          -     200000     220000\n       \
         103          -          -          -          -          -          -\n"
    );
}

#[test]
fn disk_quota_in_json_as_openvz() {
    let out = render(
        &disk_entries(),
        &Options {
            json: true,
            ..output("ctid,diskspace,diskinodes")
        },
    )
    .unwrap();
    let first = "  {\n    \"ctid\": 101,\n    \"diskspace\": {\n      \"usage\": 5120,\n      \
                 \"softlimit\": 2097152,\n      \"hardlimit\": 2306868\n    },\n";
    assert!(out.starts_with(&format!("[\n{first}")), "{out}");
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        value[0]["diskinodes"],
        serde_json::json!({"usage": 300, "softlimit": 131072, "hardlimit": 144179})
    );
    // No usage is 0, as OpenVZ printed it; no quota at all is null.
    assert_eq!(
        value[1]["diskspace"],
        serde_json::json!({"usage": 0, "softlimit": 1048576, "hardlimit": 1153434})
    );
    assert_eq!(value[2]["diskspace"], serde_json::Value::Null);
    for suffixed in ["diskspace.s", "diskinodes.h"] {
        let err = message(render(
            &disk_entries(),
            &Options {
                json: true,
                ..output(suffixed)
            },
        ));
        assert!(err.contains("not available in JSON"), "{err}");
    }
    // Without -o: every field without a suffix.
    let all = render(
        &disk_entries(),
        &Options {
            json: true,
            ..all()
        },
    )
    .unwrap();
    let value: serde_json::Value = serde_json::from_str(&all).unwrap();
    for key in ["diskspace", "diskinodes", "laverage", "uptime"] {
        assert!(value[0].get(key).is_some(), "{key} missing");
    }
    assert!(value[0].get("diskspace.s").is_none());
}

#[test]
fn sort_by_load_uptime_and_disk() {
    let with = |id, uptime_s: u64, load: [u64; 3], space_kb: Option<u64>| Entry {
        cpustat: Some(CpuStat {
            uptime_ns: uptime_s * 1_000_000_000,
            load: load.map(fixed),
        }),
        disk: space_kb.map(|kb| quota(Some((kb, 1)), [0, 0, 0, kb * 2])),
        ..Entry::new(id, Status::Running)
    };
    let entries = vec![
        with(1, 300, [500, 200, 100], Some(900)),
        with(2, 100, [500, 100, 900], Some(100)),
        with(3, 200, [2000, 0, 0], None),
        Entry::new(4, Status::Stopped),
    ];
    let sorted = |sort: &str| ctids_sorted(&entries, sort);
    // By the 1-minute load, then the 5-minute one; no load (stopped) first.
    assert_eq!(sorted("laverage"), "4 2 1 3");
    assert_eq!(sorted("-laverage"), "3 1 2 4");
    assert_eq!(sorted("uptime"), "4 2 3 1");
    assert_eq!(sorted("-uptime"), "1 3 2 4");
    assert_eq!(sorted("diskspace"), "3 4 2 1");
    // Reversed, ties (no quota) too.
    assert_eq!(sorted("-diskinodes.h"), "1 2 4 3");
}

/// Every field of OpenVZ's vzlist (vzctl 4.11 `src/vzlist.c`, `field_names[]`), in its order.
fn openvz_fields() -> Vec<String> {
    let mut names: Vec<String> = [
        "ctid",
        "veid",
        "vpsid",
        "private",
        "root",
        "mount_opts",
        "origin_sample",
        "hostname",
        "name",
        "smart_name",
        "description",
        "ostemplate",
        "ip",
        "nameserver",
        "searchdomain",
        "status",
    ]
    .map(str::to_owned)
    .to_vec();
    // Its beancounters in resource-id order, which is UB_NAMES' without the dummies.
    for ubc in vz_abi::UB_NAMES.iter().filter(|&&name| name != "dummy") {
        for suffix in ["", ".m", ".b", ".l", ".f"] {
            names.push(format!("{ubc}{suffix}"));
        }
    }
    for disk in ["diskspace", "diskinodes"] {
        for suffix in ["", ".s", ".h"] {
            names.push(format!("{disk}{suffix}"));
        }
    }
    names.extend(
        [
            "laverage",
            "uptime",
            "cpulimit",
            "cpuunits",
            "cpus",
            "ioprio",
            "iolimit",
            "iopslimit",
            "onboot",
            "bootorder",
            "layout",
            "features",
            "vswap",
            "disabled",
            "vm_overcommit",
            "netfilter",
            "capability",
        ]
        .map(str::to_owned),
    );
    names
}

const NOT_APPLICABLE: [&str; 7] = [
    "ioprio",
    "iolimit",
    "iopslimit",
    "features",
    "vm_overcommit",
    "netfilter",
    "capability",
];

#[test]
fn every_openvz_field_is_supported_in_its_order_or_refused_with_a_reason() {
    let ours: Vec<String> = fields().iter().map(|f| f.name.clone()).collect();
    let supported: Vec<String> = openvz_fields()
        .into_iter()
        .filter(|name| !NOT_APPLICABLE.contains(&name.as_str()))
        .collect();
    assert_eq!(ours, supported);
    for name in NOT_APPLICABLE {
        let err = message(render(&both(), &output(&format!("ctid,{name}"))));
        assert!(
            err.starts_with(&format!(
                "field '{name}' of OpenVZ's vzlist does not apply here: "
            )),
            "{err}"
        );
        assert!(err.contains(&format!("vzctl has no --{name}")), "{err}");
        let sort = Options {
            sort: Some(format!("-{name}")),
            ..opts()
        };
        let err = message(render(&both(), &sort));
        assert!(err.contains(&format!("'-{name}' of OpenVZ's vzlist does not apply")));
    }
    assert!(message(render(&both(), &output("ctid,bogus"))).contains("unknown field 'bogus'"));
}

/// The test host's project quotas: VE 101's private area carries one.
fn quota_of_101(_mountinfo: &str, veid: u32, private: &Path) -> Option<(DiskUsage, DiskLimits)> {
    assert!(
        private.ends_with(format!("vz/private/{veid}")),
        "{private:?}"
    );
    let quota = quota(Some((4096, 42)), [100, 200, 10, 20]);
    (veid == 101).then(|| (quota.usage.unwrap(), quota.limits))
}

#[test]
fn gather_takes_uptime_and_load_from_the_module_and_the_quota_when_asked() {
    let host = Host::new();
    host.ve(101, "DISKSPACE=\"1G:2G\"\nDISKINODES=\"1000:2000\"\n", true);
    host.ve(102, "DISKSPACE=\"1G:2G\"\nDISKINODES=\"1000:2000\"\n", true);
    host.ve(103, "", true);
    let device = FakeDevice {
        uptime_ns: 42,
        load: [1, 2, 3],
        ..FakeDevice::with_ves(&[(101, 3)])
    };
    let read: &ReadQuota<'_> = &quota_of_101;
    let gathered = gather(
        &host.paths,
        &host.global(),
        Some(&device),
        Some(read),
        Show::All,
        &[],
    )
    .unwrap()
    .unwrap()
    .entries;
    assert_eq!(
        gathered[0].cpustat,
        Some(CpuStat {
            uptime_ns: 42,
            load: [1, 2, 3]
        })
    );
    assert_eq!(gathered[1].cpustat, None, "stopped");
    // The project quota wins over the config; without one, the config's limits.
    assert_eq!(
        gathered[0].disk,
        Some(quota(Some((4096, 42)), [100, 200, 10, 20]))
    );
    assert_eq!(
        gathered[1].disk,
        Some(quota(None, [1 << 20, 2 << 20, 1000, 2000]))
    );
    assert_eq!(gathered[2].disk, None);
    // Not asked: no quota.
    let plain = host.gather(Some(&device), Show::All, &[]).unwrap();
    assert!(plain.iter().all(|e| e.disk.is_none()));
}

#[test]
fn run_reads_quotas_only_for_disk_fields() {
    let host = Host::new();
    host.ve(101, "", true);
    let device = || FakeDevice::with_ves(&[(101, 1)]);
    let reads = std::cell::Cell::new(0);
    let counting = |mountinfo: &str, veid: u32, private: &Path| {
        reads.set(reads.get() + 1);
        quota_of_101(mountinfo, veid, private)
    };
    let run = |args: &[&str]| {
        let mut argv = vec!["vzlist"];
        argv.extend_from_slice(args);
        let cli = cli::parse::<VzlistCli, _, _>(argv).unwrap().unwrap();
        let mut out = Vec::new();
        run_in(
            &host.paths,
            &cli,
            || Ok(Some(device())),
            &counting,
            &mut out,
            &mut Vec::new(),
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    };
    run(&["-o", "ctid,laverage"]);
    assert_eq!(reads.get(), 0);
    assert_eq!(
        run(&["-H", "-o", "ctid,diskspace,diskinodes.h"]),
        "       101       4096         20\n"
    );
    assert_eq!(reads.get(), 1);
    run(&["-o", "ctid", "-s", "diskspace"]);
    assert_eq!(reads.get(), 2, "sorting by it reads it too");
}
