"""Settings and logging shared by every layer; imports nothing else of ours."""
