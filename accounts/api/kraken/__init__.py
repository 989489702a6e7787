"""The Kraken.io surface's account endpoint: `/kraken/user_status` (docs/kraken.md)."""
