error("raises: broken at load time")
