# service/: the set-up and start scripts, and yubin-ready (the TCP services' readiness check);
# the service templates live in service/NAME/
SCRIPTS += service/yubin-setup service/yubin-start service/yubin-check service/yubin-ready \
           service/yubin-tlskeywait
