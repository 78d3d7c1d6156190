"""诉求高发: spike warnings per (一级分类, 社区) and (一级分类, street), and address hotspots."""
