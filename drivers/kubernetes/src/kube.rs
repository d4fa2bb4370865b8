//! Kubernetes API client (in progress).
