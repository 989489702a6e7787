"""The Kraken.io surface's compression endpoints: `/kraken/v1/url`, `/kraken/v1/upload` (docs/kraken.md)."""
