"""Drift: what changed in the live app outside stagecfg, and adopting it into the manifests."""
