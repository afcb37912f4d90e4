from django.shortcuts import render


def connection_list(request):
    return render(request, "exchanges/connection_list.html")
