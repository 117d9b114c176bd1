"""The Keras code both networks (lstm_model/, gru_model/) share: the network's shared head and
compilation, training, interval calibration, Keras inference, evaluation and tuning."""
