from django.shortcuts import render


def backup_list(request):
    return render(request, "backups/backup_list.html")
