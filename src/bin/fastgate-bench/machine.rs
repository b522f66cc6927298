//! What the run's figures depend on besides the code: the CPU, whether it is a virtual machine,
//! and how its idle vCPUs wait. On a KVM guest whose idle driver is `haltpoll` with polling off
//! (`guest_halt_poll_ns` 0), every idle moment halts the vCPU and every wake-up costs an exit
//! to the host; a pipeline that hands bytes between threads pays it thousands of times per GiB,
//! in CPU seconds as well as in wall time (docs/perf/README.md, "Seventh round").

use serde_json::{Value, json};

/// The machine as `/proc` and `/sys` describe it; a field the kernel does not offer is `None`.
pub struct Machine {
    cpu_model: Option<String>,
    virtual_machine: bool,
    idle_driver: Option<String>,
    guest_halt_poll_ns: Option<u64>,
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
        let sys = |path: &str| {
            std::fs::read_to_string(path)
                .ok()
                .map(|s| s.trim().to_owned())
        };
        Self {
            cpu_model: field("model name"),
            virtual_machine: flags.split_whitespace().any(|f| f == "hypervisor"),
            idle_driver: sys("/sys/devices/system/cpu/cpuidle/current_driver"),
            guest_halt_poll_ns: sys("/sys/module/haltpoll/parameters/guest_halt_poll_ns")
                .and_then(|s| s.parse().ok()),
        }
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
        format!("{model}, {kind}; {idle}")
    }

    pub fn json(&self) -> Value {
        json!({
            "cpu_model": self.cpu_model,
            "virtual_machine": self.virtual_machine,
            "idle_driver": self.idle_driver,
            "guest_halt_poll_ns": self.guest_halt_poll_ns,
        })
    }
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
    }
}
