from django.urls import path
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView


@api_view(["GET"])
def me(request: Request) -> Response:
    """A protected view: 401 from DRF without a valid access token."""
    return Response({"user_id": request.user.pk, "username": request.user.get_username()})


urlpatterns = [
    path("api/token/", TokenObtainPairView.as_view()),
    # Uses SIMPLE_JWT["TOKEN_REFRESH_SERIALIZER"]: firebreak_guard.simplejwt.FirebreakTokenRefreshSerializer.
    path("api/token/refresh/", TokenRefreshView.as_view()),
    path("api/me/", me),
]
