//! Where traces go and how many are kept (`[tracing]`, `--otlp-endpoint`,
//! `--trace-sampling-rate`).

use serde::{Deserialize, Serialize};

/// daprd's sampling rate when an OTLP endpoint is given and no rate is
/// (`pkg/diagnostics/tracing_sampler.go`: the endpoint variable with an
/// empty rate means "1").
pub const DEFAULT_SAMPLING_RATE_WITH_ENDPOINT: f64 = 1.0;

/// Trace export settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracingConfig {
    /// OTLP/gRPC collector endpoint (`http://host:4317`; a bare
    /// `host:port` means `http://`). Unset: the standard
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`,
    /// as daprd reads them; none: no spans are started or exported (an
    /// incoming trace context is still carried along).
    pub otlp_endpoint: Option<String>,
    /// Share of new traces sampled, 0 to 1 (Dapr's `samplingRate`; a
    /// sampled caller's trace is always followed). Default 1 with an
    /// endpoint, as daprd; 0 turns tracing off.
    pub sampling_rate: Option<f64>,
}

impl TracingConfig {
    /// The endpoint in effect (the setting, else the standard variables),
    /// with `http://` added to a bare `host:port`.
    pub fn endpoint(&self) -> Option<String> {
        let raw = self.otlp_endpoint.clone().or_else(|| {
            [
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ]
            .iter()
            .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
        })?;
        let raw = raw.trim();
        Some(if raw.contains("://") {
            raw.to_string()
        } else {
            format!("http://{raw}")
        })
    }

    /// The sampling rate in effect.
    pub fn sampling_rate(&self) -> f64 {
        self.sampling_rate
            .unwrap_or(DEFAULT_SAMPLING_RATE_WITH_ENDPOINT)
    }

    /// Checks the rate and the endpoint's scheme.
    ///
    /// # Errors
    /// The field and the reason.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if let Some(rate) = self.sampling_rate
            && !(0.0..=1.0).contains(&rate)
        {
            return Err((
                "tracing.sampling_rate",
                format!("must be between 0 and 1, got {rate}"),
            ));
        }
        if let Some(endpoint) = self.endpoint() {
            if endpoint.starts_with("https://") {
                return Err((
                    "tracing.otlp_endpoint",
                    format!(
                        "{endpoint}: this build exports over plain http:// only (run a local collector, or an agent, that forwards over TLS)"
                    ),
                ));
            }
            if !endpoint.starts_with("http://") {
                return Err((
                    "tracing.otlp_endpoint",
                    format!("{endpoint}: expected http://HOST:PORT or HOST:PORT"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_endpoints_get_http_and_rates_are_bounded() {
        let config = TracingConfig {
            otlp_endpoint: Some("127.0.0.1:4317".into()),
            sampling_rate: None,
        };
        assert_eq!(config.endpoint().as_deref(), Some("http://127.0.0.1:4317"));
        assert_eq!(config.sampling_rate(), 1.0);
        assert!(config.check().is_ok());
        for bad in [-0.1, 1.5, f64::NAN] {
            let config = TracingConfig {
                sampling_rate: Some(bad),
                ..config.clone()
            };
            let (field, reason) = config.check().expect_err("out of range");
            assert_eq!(field, "tracing.sampling_rate");
            assert!(reason.contains("between 0 and 1"), "{reason}");
        }
        let tls = TracingConfig {
            otlp_endpoint: Some("https://collector:4317".into()),
            sampling_rate: Some(0.01),
        };
        assert!(tls.check().expect_err("https").1.contains("plain http"));
        let odd = TracingConfig {
            otlp_endpoint: Some("grpc://collector:4317".into()),
            sampling_rate: None,
        };
        assert!(odd.check().is_err());
    }
}
