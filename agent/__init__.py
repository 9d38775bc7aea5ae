"""bngsync: the BNG ⇄ nopCommerce sync agent (headless core; never imports Qt)."""

__version__ = "0.1.0"
