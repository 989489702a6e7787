import factory

from accounts.models import Account


class AccountFactory(factory.django.DjangoModelFactory[Account]):
    class Meta:
        model = Account

    login = factory.Sequence(lambda n: f"shop-{n}")
    email = factory.LazyAttribute(lambda account: f"{account.login}@example.com")
    plan_bytes = 1024 * 2**20
    file_max_size = 32 * 2**20
