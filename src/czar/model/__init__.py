"""The scripted model server: real agent CLIs against a script instead of a paid model."""
