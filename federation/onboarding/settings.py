"""Onboarding's settings beyond ``HubSettings``' own fields.

``wiring`` reads each with ``getattr`` and these defaults, so a plain
``HubSettings`` gets them; ``OnboardingSettings`` sets them explicitly (tests,
benchmarks, embedding).
"""

from __future__ import annotations

from dataclasses import dataclass

from federation.settings import HubSettings

DEFAULT_CERT_TTL = 24 * 3600.0


@dataclass
class OnboardingSettings(HubSettings):
    vm_enroll_failures: int = 5  # failed enrollments per peer address before it is slowed down
    vm_enroll_refill_seconds: float = 10.0  # one more allowed failure per this many seconds
    vm_max_concurrent_rpcs: int = 64  # beyond: RESOURCE_EXHAUSTED at once
    vm_server_threads: int = 8
