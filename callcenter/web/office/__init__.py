"""The office's own work: alerts, the duty rota, reports, ticket imports."""
