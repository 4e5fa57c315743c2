"""Logic that spans several repositories (checkout, reports, notifications, images, settings)."""
