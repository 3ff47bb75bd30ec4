"""newscrawler: archive news articles and every version of them."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/newscrawler/newscrawler"
