//! The in-cluster hook against the fake Kubernetes API server.
