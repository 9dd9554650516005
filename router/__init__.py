"""wadofarm's HTTP side: requests, stores, the render cache. It never touches pixels."""
