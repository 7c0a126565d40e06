"""Plan summaries: what a saved Terraform plan would change, and which of those changes destroy data or identity."""
