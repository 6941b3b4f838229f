"""Lab test doubles that run on lab hosts (the Solo5 tender)."""
