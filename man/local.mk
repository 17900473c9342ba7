dist_man_MANS += man/hubd.8 man/hubd.conf.5 man/hubctl.8
