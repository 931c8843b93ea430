# service/: the set-up and start scripts; the service templates live in service/NAME/
SCRIPTS += service/yubin-setup service/yubin-start service/yubin-check
