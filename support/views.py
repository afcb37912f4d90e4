from django.shortcuts import render


def ticket_list(request):
    return render(request, "support/ticket_list.html")
