"""node: one village node — config, identity, domain services, the daemon, the CLI.

The TUI uses what is re-exported here.
"""

from .cases import CaseRow, CaseService, TimelineEntry
from .config import ConfigError, Home, NodeConfig, default_home
from .followups import DueVisit
from .node import Node
from .stats import Stats

__all__ = ["CaseRow", "CaseService", "ConfigError", "DueVisit", "Home", "Node", "NodeConfig",
           "Stats", "TimelineEntry", "default_home"]
