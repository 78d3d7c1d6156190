"""回访活动: campaigns, their form and their live page."""
