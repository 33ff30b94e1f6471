"""``{{ text|whatsapp }}``: WhatsApp formatting rendered, CPFs masked (whatsapp.markup)."""

from django import template

from whatsapp.markup import whatsapp_html

register = template.Library()
register.filter("whatsapp", whatsapp_html, is_safe=True)
