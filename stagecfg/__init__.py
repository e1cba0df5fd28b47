"""stagecfg: configuration as code for Stream Video call types, grants and livestreams."""

__version__ = "0.1.0"
