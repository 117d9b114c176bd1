"""What a browser opens: the dashboard (`static/`, ES modules, no build step) and the API docs."""
