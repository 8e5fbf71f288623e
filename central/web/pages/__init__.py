"""Pages of their own: each module builds its page's content and registers its callbacks."""
