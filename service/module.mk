# service/: the set-up and start scripts, yubin-ready (the TCP services' readiness check) and
# yubin-webready (the member page's doors': lighttpd behind them too);
# the service templates live in service/NAME/
SCRIPTS += service/yubin-setup service/yubin-start service/yubin-check service/yubin-ready \
           service/yubin-tlskeywait service/yubin-webready
