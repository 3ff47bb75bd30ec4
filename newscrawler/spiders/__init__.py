"""newscrawler's spiders: one module per discovery mode, sharing :mod:`newscrawler.spiders.base`."""
