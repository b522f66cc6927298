//! What the run's figures depend on besides the code: the CPU, whether it is a virtual machine,
//! and how its idle vCPUs wait. On a KVM guest whose idle driver is `haltpoll` with polling off
//! (`guest_halt_poll_ns` 0), every idle moment halts the vCPU and every wake-up costs an exit
//! to the host: on one such VM, keeping the vCPUs from halting cut the form path's CPU per GiB
//! by 17–26 %; on another, polling changed nothing. And with free page reporting, freed memory
//! goes back to the host, so the next write into the page cache faults it in again: 1 GiB
//! written to a file cost 1.1–1.7 s of system time there against 0.33 s into pages not yet
//! reported, which is what moves the emulator's CPU from run to run (docs/perf/README.md,
//! "Seventh round").

use serde_json::{Value, json};

/// The machine as `/proc` and `/sys` describe it; a field the kernel does not offer is `None`.
pub struct Machine {
    cpu_model: Option<String>,
    virtual_machine: bool,
    idle_driver: Option<String>,
    guest_halt_poll_ns: Option<u64>,
    /// Free page reporting: the smallest block (as a page order) handed back to the host.
    page_reporting_order: Option<u32>,
    /// KiB the guest had reported to the host when this was read.
    reported_kib: Option<u64>,
}

impl Machine {
    /// Reads the machine's description; never fails (a missing file leaves its field empty).
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            cpuinfo.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key.trim() == name).then(|| value.trim().to_owned())
            })
        };
        let flags = field("flags").unwrap_or_default();
        Self {
            cpu_model: field("model name"),
            virtual_machine: flags.split_whitespace().any(|f| f == "hypervisor"),
            idle_driver: sysfs("/sys/devices/system/cpu/cpuidle/current_driver"),
            guest_halt_poll_ns: sysfs("/sys/module/haltpoll/parameters/guest_halt_poll_ns"),
            page_reporting_order: sysfs(
                "/sys/module/page_reporting/parameters/page_reporting_order",
            ),
            reported_kib: sysfs(REPORTED_KIB),
        }
    }

    /// MiB of freed memory the guest has handed back to the host since this was read: memory
    /// each later write into the page cache pays to fault in again.
    pub fn reported_mib_since(&self) -> Option<u64> {
        let now: u64 = sysfs(REPORTED_KIB)?;
        Some(now.saturating_sub(self.reported_kib?) / 1024)
    }

    /// One line for the table: the CPU, and how its idle vCPUs wait.
    pub fn describe(&self) -> String {
        let model = self.cpu_model.as_deref().unwrap_or("unknown CPU");
        let kind = if self.virtual_machine {
            "virtual machine"
        } else {
            "bare metal"
        };
        let idle = match (&self.idle_driver, self.guest_halt_poll_ns) {
            (Some(driver), Some(0)) if driver == "haltpoll" => {
                "idle: haltpoll with polling off (every idle halts the vCPU)".to_owned()
            }
            (Some(driver), Some(ns)) if driver == "haltpoll" => {
                format!("idle: haltpoll, polling {} µs before halting", ns / 1000)
            }
            (Some(driver), _) => format!("idle: {driver}"),
            (None, _) => "idle driver unknown".to_owned(),
        };
        let reporting = match self.page_reporting_order {
            Some(order) => format!(
                "; free page reporting of {} KiB blocks",
                4u64 << order.min(20)
            ),
            None => String::new(),
        };
        format!("{model}, {kind}; {idle}{reporting}")
    }

    /// The JSON of the machine, with `reported_mib` from [`Self::reported_mib_since`].
    pub fn json(&self, reported_mib: Option<u64>) -> Value {
        json!({
            "cpu_model": self.cpu_model,
            "virtual_machine": self.virtual_machine,
            "idle_driver": self.idle_driver,
            "guest_halt_poll_ns": self.guest_halt_poll_ns,
            "page_reporting_order": self.page_reporting_order,
            "reported_to_host_mib_during_run": reported_mib,
        })
    }
}

/// The guest kernel's running count of KiB reported free to the host, where it offers one.
const REPORTED_KIB: &str = "/sys/module/page_reporting/parameters/reported_kib";

/// A `/sys` value read and parsed; `None` where the kernel does not offer it.
fn sysfs<T: std::str::FromStr>(path: &str) -> Option<T> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::Machine;

    fn kvm(idle_driver: Option<&str>, guest_halt_poll_ns: Option<u64>) -> Machine {
        Machine {
            cpu_model: Some("Intel(R) Xeon(R) Processor".to_owned()),
            virtual_machine: true,
            idle_driver: idle_driver.map(str::to_owned),
            guest_halt_poll_ns,
            page_reporting_order: None,
            reported_kib: None,
        }
    }

    #[test]
    fn the_description_says_whether_idle_vcpus_poll() {
        assert_eq!(
            kvm(Some("haltpoll"), Some(0)).describe(),
            "Intel(R) Xeon(R) Processor, virtual machine; idle: haltpoll with polling off (every idle halts the vCPU)"
        );
        assert_eq!(
            kvm(Some("haltpoll"), Some(200_000)).describe(),
            "Intel(R) Xeon(R) Processor, virtual machine; idle: haltpoll, polling 200 µs before halting"
        );
        assert!(
            kvm(Some("intel_idle"), None)
                .describe()
                .ends_with("idle: intel_idle")
        );
        assert!(kvm(None, None).describe().ends_with("idle driver unknown"));
        let reporting = Machine {
            page_reporting_order: Some(9),
            ..kvm(Some("haltpoll"), Some(0))
        };
        assert!(
            reporting
                .describe()
                .ends_with("; free page reporting of 2048 KiB blocks")
        );
    }
}
