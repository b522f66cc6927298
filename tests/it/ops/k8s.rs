//! `deploy/k8s/`: the manifests parse, and what they say matches the app: the probes hit the
//! app's real `/readyz` and `/healthz` on the port it listens on, every environment variable is
//! one the configuration reads, the key and the secret come from the Secret, resources are set
//! (memory above the in-flight budget), the pods run as the image's non-root user, the grace
//! period outlasts `FASTGATE_SHUTDOWN_GRACE`, and the Service and PodDisruptionBudget select the
//! Deployment's pods.

use serde_norway::Value;

use crate::common::spawn_app;
use fastgate::config::{ENV_EXAMPLE, parse_duration, parse_size};

fn manifest(name: &str) -> Value {
    let path = format!("{}/deploy/k8s/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

fn text<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v:?}"))
}

/// A Kubernetes memory quantity (`128Mi`, `1Gi`) in bytes.
fn quantity(q: &str) -> u64 {
    let (n, unit) = q.split_at(q.find(|c: char| !c.is_ascii_digit()).unwrap_or(q.len()));
    let n: u64 = n.parse().expect("a number");
    n * match unit {
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "" => 1,
        other => panic!("unit {other}"),
    }
}

#[test]
fn the_kubernetes_manifests_match_the_apps_routes_port_config_and_labels() {
    let deployment = manifest("deployment.yaml");
    let service = manifest("service.yaml");
    let pdb = manifest("pdb.yaml");
    let secret = manifest("secret.example.yaml");
    let ingress = manifest("ingress.yaml");
    assert_eq!(deployment["kind"], "Deployment");
    assert_eq!(service["kind"], "Service");
    assert_eq!(pdb["kind"], "PodDisruptionBudget");
    assert_eq!(pdb["apiVersion"], "policy/v1");
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(ingress["kind"], "Ingress");

    let spec = &deployment["spec"];
    let labels = &spec["template"]["metadata"]["labels"];
    assert_eq!(
        &spec["selector"]["matchLabels"], labels,
        "the Deployment selects its own pods"
    );
    assert_eq!(
        &pdb["spec"]["selector"]["matchLabels"], labels,
        "the PDB selects the pods"
    );
    assert_eq!(
        &service["spec"]["selector"], labels,
        "the Service selects the pods"
    );
    let replicas = spec["replicas"].as_u64().expect("replicas");
    let min_available = pdb["spec"]["minAvailable"].as_u64().expect("minAvailable");
    assert!(min_available < replicas, "a drain can still move one pod");

    let pod = &spec["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    // The Dockerfile's `USER 10001:10001`.
    assert_eq!(pod["securityContext"]["runAsUser"], 10001);
    let containers = pod["containers"].as_sequence().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);

    // Environment: only variables the app reads; the key and the secret from the Secret.
    let env = c["env"].as_sequence().expect("env");
    let secret_keys = secret["stringData"].as_mapping().expect("stringData");
    let mut value_of = std::collections::HashMap::new();
    for var in env {
        let name = text(&var["name"], "env name");
        assert!(
            ENV_EXAMPLE.contains(&format!("# {name}=")),
            "{name} is not a fastgate configuration variable"
        );
        if let Some(reference) = var["valueFrom"]["secretKeyRef"].as_mapping() {
            let key = reference.get("key").and_then(Value::as_str).expect("key");
            assert_eq!(
                reference.get("name").and_then(Value::as_str),
                secret["metadata"]["name"].as_str()
            );
            assert!(secret_keys.contains_key(key), "the Secret has no {key}");
        } else {
            value_of.insert(name, text(&var["value"], name).to_owned());
        }
    }
    for from_secret in ["FASTIO_API_KEY", "FASTGATE_SECRET", "FASTGATE_DATABASE_URL"] {
        assert!(
            env.iter()
                .any(|v| v["name"] == from_secret && v["valueFrom"]["secretKeyRef"].is_mapping()),
            "{from_secret} must come from the Secret"
        );
    }
    // Every value is valid for the app's own configuration.
    let vars: Vec<(String, String)> = value_of
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .chain([
            ("FASTIO_API_KEY".to_owned(), "k".to_owned()),
            ("FASTGATE_SECRET".to_owned(), "x".repeat(40)),
        ])
        .collect();
    let config =
        fastgate::config::Config::from_vars(vars).expect("the manifest's values are valid");

    // Probes and ports: the named port is the one FASTGATE_BIND listens on.
    let ports = c["ports"].as_sequence().expect("ports");
    let http = ports
        .iter()
        .find(|p| p["name"] == "http")
        .expect("an http port");
    assert_eq!(
        http["containerPort"].as_u64(),
        Some(u64::from(config.bind.port()))
    );
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(c[probe]["httpGet"]["port"], "http", "{probe} port");
    }
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "http");
    assert_eq!(
        ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        service["metadata"]["name"]
    );

    // Resources: requests and a memory limit above the in-flight budget (plus the process).
    let resources = &c["resources"];
    assert!(resources["requests"]["cpu"].is_string(), "a CPU request");
    let request = quantity(text(&resources["requests"]["memory"], "memory request"));
    let limit = quantity(text(&resources["limits"]["memory"], "memory limit"));
    let budget = parse_size(&value_of["FASTGATE_INFLIGHT_BUDGET"]).expect("budget");
    assert!(request >= budget, "the request holds the in-flight budget");
    assert!(
        limit >= request + budget,
        "the limit leaves room above the budget"
    );

    // Shutdown: the pod is given longer than the app's drain.
    let grace = parse_duration(&value_of["FASTGATE_SHUTDOWN_GRACE"]).expect("grace");
    let termination = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("termination grace");
    assert!(
        termination > grace.as_secs(),
        "{termination}s ≤ FASTGATE_SHUTDOWN_GRACE"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_probe_paths_of_the_manifest_answer_200_on_the_app() {
    let deployment = manifest("deployment.yaml");
    let c = &deployment["spec"]["template"]["spec"]["containers"][0];
    let gw = spawn_app().await;
    for probe in ["readinessProbe", "livenessProbe"] {
        let path = text(&c[probe]["httpGet"]["path"], probe);
        let r = gw.anonymous().get(path).await;
        assert_eq!(r.status, 200, "{probe} {path}: {}", r.text());
    }
}
