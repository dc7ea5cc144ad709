"""Accounts: users, groups, roles, permissions, signing in and onboarding."""
