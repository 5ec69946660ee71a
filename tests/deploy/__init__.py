"""Static checks of deploy/, kind-configs/, shell scripts and the Containerfile; member access."""
