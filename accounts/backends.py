from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class EmailBackend(ModelBackend):
    """Log in with an e-mail address in any letter case."""

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        login = email or username or kwargs.get(get_user_model().USERNAME_FIELD)
        if not login or password is None:
            return None
        User = get_user_model()
        try:
            user = User.objects.get(email__iexact=login.strip())
        except User.DoesNotExist:
            User().set_password(password)  # same work either way: no timing oracle for addresses
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
