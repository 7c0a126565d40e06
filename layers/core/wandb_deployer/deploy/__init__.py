"""The steps of the deploy workflow: each function here is what one Lambda state does (handlers stay thin)."""
