from django.urls import re_path

from chatbot.api import ChatView, TranscribeAudioView

urlpatterns = [
    re_path(r"^chat/?$", ChatView.as_view(), name="chat"),
    re_path(r"^transcribe-audio/?$", TranscribeAudioView.as_view(), name="transcribe-audio"),
]
