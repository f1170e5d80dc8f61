"""The shop's side: news for the shop's admins (new orders), the 24-hour window, templates."""
