def lockout(request, credentials=None, *args, **kwargs):
    raise NotImplementedError
